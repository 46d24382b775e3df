"""Copying a PyTorch checkpoint's tensors into a Keras graph built to mirror it.

Both backbone ports (MobileNetV2, EfficientNet-Lite) name each Keras layer after
its checkpoint key and differ only in how a name maps back to the key, which
BatchNorm follows a convolution, and the BatchNorm epsilon.  Layouts: PyTorch
convolutions are ``(out, in, kh, kw)`` (depthwise ``(channels, 1, kh, kw)``),
Keras wants ``(kh, kw, in, out)`` (depthwise ``(kh, kw, channels, 1)``); a folded
BatchNorm becomes the convolution's bias.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import layers

BN_PARTS = ("weight", "bias", "running_mean", "running_var")


def keras_kernel(layer: layers.Layer, weight: np.ndarray) -> np.ndarray:
    """A PyTorch convolution weight in the Keras layout of ``layer``."""
    if isinstance(layer, layers.DepthwiseConv2D):
        return weight.transpose(2, 3, 0, 1)  # (C,1,kh,kw) → (kh,kw,C,1)
    return weight.transpose(2, 3, 1, 0)  # (O,I,kh,kw) → (kh,kw,I,O)


def folded(
    state: dict[str, np.ndarray], bn: str, kernel: np.ndarray, depthwise: bool, epsilon: float
) -> list[np.ndarray]:
    """Kernel (Keras layout, output channels last) and bias with BatchNorm ``bn`` folded in."""
    gamma, beta = state[f"{bn}.weight"], state[f"{bn}.bias"]
    mean, var = state[f"{bn}.running_mean"], state[f"{bn}.running_var"]
    scale = (gamma / np.sqrt(var.astype(np.float64) + epsilon)).astype(np.float64)
    per_channel = scale[:, None] if depthwise else scale  # depthwise: channels on axis 2
    folded_kernel = (kernel.astype(np.float64) * per_channel).astype(np.float32)
    bias = (beta - mean * scale).astype(np.float32)
    return [folded_kernel, bias]


def copy_weights(
    model: keras.Model,
    state: dict[str, np.ndarray],
    *,
    key_of: Callable[[str], str],
    bn_after: Callable[[str], str],
    epsilon: float,
    not_in_model: str,
) -> None:
    """Copy ``state`` into ``model`` layer by layer; every tensor must find its layer.

    ``key_of(layer name)`` is the checkpoint prefix, ``bn_after(conv prefix)`` the
    BatchNorm that follows a convolution (folded where the Keras conv has a bias),
    and keys starting with ``not_in_model`` (the ImageNet classifier) may stay unused.
    """
    used: set[str] = set()
    for layer in model.layers:
        prefix = key_of(layer.name)
        if isinstance(layer, layers.BatchNormalization):
            keys = [f"{prefix}.{k}" for k in BN_PARTS]
            layer.set_weights([state[k] for k in keys])
        elif isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D):
            kernel = keras_kernel(layer, state[f"{prefix}.weight"])
            keys = [f"{prefix}.weight"]
            if layer.use_bias:  # BatchNorm folded into this conv
                bn = bn_after(prefix)
                keys += [f"{bn}.{k}" for k in BN_PARTS]
                depthwise = isinstance(layer, layers.DepthwiseConv2D)
                layer.set_weights(folded(state, bn, kernel, depthwise, epsilon))
            else:
                layer.set_weights([kernel])
        elif isinstance(layer, layers.Dense):
            keys = [f"{prefix}.weight", f"{prefix}.bias"]
            layer.set_weights([state[keys[0]].T, state[keys[1]]])
        else:
            continue
        used.update(keys)
    missing = {
        k
        for k in state
        if not k.endswith("num_batches_tracked") and k not in used
        and not k.startswith(not_in_model)
    }  # fmt: skip
    if missing:
        raise ValueError(f"checkpoint tensors not loaded into the model: {sorted(missing)[:5]}")
