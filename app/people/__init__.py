"""People and their places: accounts, sign-in, actors and the authorization policy, persons,
family proxies, invitations, organizations, the territory register and the notice inbox."""
