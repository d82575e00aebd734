"""The ground floor: what every layer shares and that imports nothing of the package but
itself: the pyramid's spec and frequency masks, coefficient selections, channels, steering,
input validation, colour matrices and batch sizing."""
