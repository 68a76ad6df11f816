"""Activities and volunteers (社区活动): /api/v1/activities."""
