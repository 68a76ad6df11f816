"""Participation domain: 社区事务我参与.

Consultations and votes (votes.py), activities and volunteers (activities.py),
and the points ledger (points.py). Rules live in the services here; views stay thin.
"""
