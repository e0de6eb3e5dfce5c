"""The hardware simulator: device peers on pseudo-terminals and the cabinet model."""
