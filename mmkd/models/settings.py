"""What a bad setting of a loss, connector, distiller or hook raises, and
the checks of numeric settings made when they are built: a bad value stops
the run before training, in one line naming the owner, the setting and the
value."""
import math
from numbers import Integral, Real

__all__ = ['SettingError', 'DistillerConfigError', 'check_number',
           'check_numbers', 'check_int']


class SettingError(ValueError):
    """A setting of a loss, connector, distiller or hook has a value it
    cannot take."""


class DistillerConfigError(ValueError):
    """A distiller's config does not describe a valid teacher/student
    pair."""


def _shown(value) -> str:
    if isinstance(value, Real) and not isinstance(value, bool):
        return repr(value)
    return f'{value!r} (a {type(value).__name__})'


def check_number(owner: str, name: str, value, positive: bool = False
                 ) -> float:
    """``value`` as a float if it is a finite real number, > 0 when
    ``positive`` (temperatures) and >= 0 otherwise (weights); else
    :class:`SettingError` naming ``owner``, ``name`` and ``value``. Strings
    and booleans are refused, not converted."""
    bound = '> 0' if positive else '>= 0'
    if not isinstance(value, Real) or isinstance(value, bool) or \
            not math.isfinite(value) or value < 0 or (positive and
                                                     value == 0):
        raise SettingError(f'{owner}: {name} must be a finite number '
                           f'{bound}, got {_shown(value)}')
    return float(value)


def check_numbers(owner: str, positive: dict = None,
                  nonnegative: dict = None) -> None:
    """:func:`check_number` on every ``name=value`` of ``positive`` (> 0)
    and ``nonnegative`` (>= 0)."""
    for name, value in (positive or {}).items():
        check_number(owner, name, value, positive=True)
    for name, value in (nonnegative or {}).items():
        check_number(owner, name, value)


def check_int(owner: str, name: str, value, minimum: int) -> int:
    """``value`` if it is an integer >= ``minimum``; else
    :class:`SettingError` naming ``owner``, ``name`` and ``value``."""
    if not isinstance(value, Integral) or isinstance(value, bool) or \
            value < minimum:
        raise SettingError(f'{owner}: {name} must be an integer >= '
                           f'{minimum}, got {_shown(value)}')
    return int(value)
