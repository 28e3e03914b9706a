"""Torch custom ops over the Serengeti kernels (validation, allocation, autograd)."""
from serengeti.ops.fftconv import fft_filter, fft_size, fftconv
from serengeti.ops.modal import (gated_conv_recurrence, gated_conv_step, modal_kernel, modal_scan,
                                 modal_state, s4d_discretize, s4d_kernel, s4d_state, shift_ssm_kernel)
from serengeti.ops.short_conv import short_conv, short_conv_step

__all__ = [
    "fftconv", "fft_filter", "fft_size", "short_conv", "short_conv_step",
    "modal_kernel", "modal_state", "modal_scan", "gated_conv_step", "gated_conv_recurrence",
    "s4d_kernel", "s4d_state", "s4d_discretize", "shift_ssm_kernel",
]
