"""Training for scened's scene model (installed as ``scened_training``).

Builds scened's scene model on a faithful Keras port of torchvision's ImageNet
MobileNetV2, trains the head on cached base features, evaluates it and exports
the Keras model and its TFLite twin.  Never imports the ``scened`` runtime.
"""
