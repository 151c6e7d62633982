"""The daemon's local API: search, records, control, and the awareness stream for agents."""
