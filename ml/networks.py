"""Encoder and decoder networks for 2-D inputs (channels x height x width).

Dimension letters: B batch, C channels, H height (frequency bands), W width (frames), h hidden.

The same classes serve 28 x 28 digits and 64 x 32 spectrogram windows: the convolutional encoder
halves H and W per layer (rounding up), the decoder doubles them per layer and crops to the input
size, so any ``(C, H, W)`` works.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ml.config import DetectorConfig

__all__ = ["Encoder", "Decoder", "build_encoder", "build_decoder"]


def _conv_out(size: int, n_layers: int) -> int:
    for _ in range(n_layers):
        size = (size + 2 * 1 - 3) // 2 + 1  # kernel 3, stride 2, padding 1
    return size


class Encoder(nn.Module):
    """x (B, C, H, W) -> hidden code (B, h)."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        c_in, height, width = config.input_shape
        layers: list[nn.Module] = []
        if config.architecture == "conv":
            for c_out in config.channels:
                layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
                c_in = c_out
            n = len(config.channels)
            flat = c_in * _conv_out(height, n) * _conv_out(width, n)
            layers.append(nn.Flatten())  # (B, C' * H' * W')
        else:
            flat = c_in * height * width
            layers.append(nn.Flatten())  # (B, C * H * W)
            for width_out in config.channels:
                layers += [nn.Linear(flat, width_out), nn.LeakyReLU(0.2)]
                flat = width_out
        layers += [nn.Linear(flat, config.h_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, h)


class Decoder(nn.Module):
    """Hidden code (B, h) -> reconstruction (B, C, H, W), linear output (standardised units)."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.out_shape = config.input_shape
        c_out, height, width = config.input_shape
        if config.architecture == "conv":
            n = len(config.channels)
            chans = list(reversed(config.channels))
            self.start = (chans[0], _conv_out(height, n), _conv_out(width, n))
            layers: list[nn.Module] = [
                nn.Linear(config.h_dim, math.prod(self.start)),
                nn.LeakyReLU(0.2),
                nn.Unflatten(1, self.start),  # (B, C', H', W')
            ]
            for c_in, c_next in zip(chans, chans[1:] + [chans[-1]], strict=True):
                layers += [
                    nn.ConvTranspose2d(c_in, c_next, 4, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                ]
            layers.append(nn.Conv2d(chans[-1], c_out, 3, padding=1))  # (B, C, H'*2^n, W'*2^n)
        else:
            widths = [config.h_dim, *reversed(config.channels)]
            layers = []
            for w_in, w_next in zip(widths[:-1], widths[1:], strict=True):
                layers += [nn.Linear(w_in, w_next), nn.LeakyReLU(0.2)]
            layers += [
                nn.Linear(widths[-1], c_out * height * width),
                nn.Unflatten(1, self.out_shape),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        _, height, width = self.out_shape
        return self.net(h)[:, :, :height, :width]  # (B, C, H, W)


def build_encoder(config: DetectorConfig) -> Encoder:
    """The encoder sized by ``config``."""
    return Encoder(config)


def build_decoder(config: DetectorConfig) -> Decoder:
    """A decoder ("head") sized by ``config``."""
    return Decoder(config)
