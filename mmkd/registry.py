"""mmkd's registries.

They are children of mmengine's root registries under the scope ``mmkd``.
A config keeps the default scope of its task library (``mmseg`` or
``mmpretrain``, inherited from its ``_base_``) and names mmkd's modules with
the scope prefix, ``type='mmkd.SegDistiller'``, as OpenMMLab configs name
modules of another library. Inside a distiller the losses are built in the
``mmkd`` scope and the segmentors in their own, so ``type='KDLoss'`` and
``type='EncoderDecoder'`` need no prefix there.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmkd',
                  locations=['mmkd.models'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmkd',
                   locations=['mmkd.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmkd',
                 locations=['mmkd.hooks'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmkd',
                    locations=['mmkd.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmkd',
                      locations=['mmkd.transforms'])
