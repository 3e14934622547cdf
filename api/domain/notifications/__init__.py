"""Notifications: who hears of which domain event, by email, and how the message reads."""
