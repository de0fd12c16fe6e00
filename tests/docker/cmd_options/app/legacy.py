import warnings

warnings.warn('app.legacy is deprecated', DeprecationWarning)
