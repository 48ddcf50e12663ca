"""Edge runner: streaming windows, the shared preprocessing, int8 inference, live display.

Nothing here imports TensorFlow: on a Pi the interpreter comes from LiteRT.
"""
