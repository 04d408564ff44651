"""digitcam's trainer: MNIST -> FCL weights, evaluation and pictures (`python -m train`)."""
