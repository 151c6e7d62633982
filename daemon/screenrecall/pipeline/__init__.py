"""The stages between the sources and the store, and the messages they pass: inbox, embedder, writer."""
