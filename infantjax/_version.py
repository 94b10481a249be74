"""The package's version, in a module of its own (layer 0) so that any layer can name it without importing the
package facade."""

__version__ = "0.1.0"
