"""The provider of trained models and their compressed variants that train, tune, run and viz share.

Import from the modules (``bench.provider.provider``, ``.observer``, ``.pruned_cache``): this
package stays light, so the CLI can name the observer protocol without importing torch.
"""
