"""Community affairs (诉求) API."""
