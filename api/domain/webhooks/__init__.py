"""Webhook endpoints, their signed deliveries and the delivery log."""
