"""Shared neural-network layers (Flax Linen, channels-last).

* ``norm`` — the one BatchNorm factory (PyTorch or Keras ε/momentum conventions);
* ``activations`` — the one activation lookup (``get``: relu, swish, E-swish, ReLU6);
* ``se`` — the one squeeze-and-excitation block (GCN and image parameter layouts);
* ``precision`` — compute dtypes (``dtype_name``);
* ``temporal`` — temporal convolutions (``TemporalConv``) and pointwise layers on skeleton sequences;
* ``graph`` — graph convolutions; ``attention`` — ResGCN channel/frame/joint attention; ``dense`` — FlatDense;
* ``efficientnet`` — EfficientNet backbones and MBConv blocks; ``conv3d`` — 3D convolution blocks;
* ``torch_compat`` — PyTorch-equivalent initialisers.

Every layer takes a ``dtype`` (the compute dtype; parameters stay float32). Import the submodule you need; this
package imports nothing eagerly.
"""
