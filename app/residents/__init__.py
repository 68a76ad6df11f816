"""What a resident's own screens gather from the domains (easy mode, 长辈版)."""
