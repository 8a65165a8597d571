from .connectors import (ConvConnector, IdentityConnector,  # noqa: F401
                         TokensToMapConnector)
from .distillers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
