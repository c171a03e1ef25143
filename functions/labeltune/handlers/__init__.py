"""Lambda entry points. Each parses its event, calls one pipeline function, shapes the output."""
