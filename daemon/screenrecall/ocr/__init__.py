"""Reading the screen: the OCR engine, what changed, secrets masked, and the OCR stage."""
