"""Training: real datasets, subject-independent evaluation, int8 quantization.

Only ``train.model``/``train.quantize`` need TensorFlow; the loaders are numpy/scipy.
"""
