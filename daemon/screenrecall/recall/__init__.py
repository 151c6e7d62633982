"""Finding moments again: search, text matching, moments, and the query language shared by API and CLI."""
