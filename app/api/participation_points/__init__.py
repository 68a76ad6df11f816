"""Points (积分): /api/v1/points, leaderboards, rules, redemptions."""
