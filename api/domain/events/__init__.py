"""The event feed: every domain event, in a durable order, for CRMs that poll."""
