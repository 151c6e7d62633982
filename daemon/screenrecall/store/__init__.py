"""Where records live: Chroma (the single owner), the record layout, tiles, the process lock."""
