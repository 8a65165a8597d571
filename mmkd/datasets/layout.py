"""Where a dataset config's files are, and whether they are there: the
defaults of the class a dataset config builds, and the check the tools run
before they build anything (:func:`input_problems`)."""
import inspect
import os
import os.path as osp
from typing import List, Optional

__all__ = ['dataset_class', 'dataset_setting', 'leaf_datasets',
           'dataset_problem', 'DATA_HELP']

#: what to do about a missing dataset, by dataset type
DATA_HELP = {
    'CityscapesDataset': 'docs/cityscapes.md in the mmkd repository shows '
    'how to prepare Cityscapes',
    'mmkd.DigitScapesDataset': 'python tools/make_digitscapes.py '
    'data/digitscapes, or mmkd.datasets.write_digitscapes, builds it',
}
OTHER_DATA_HELP = 'see how the dataset is prepared for MMSegmentation'


def dataset_class(dataset: dict, scope: Optional[str]) -> Optional[type]:
    """The class a dataset config builds, from the registry of ``scope``
    (the config's default scope), or None when it is not registered."""
    from mmengine.registry import DATASETS
    with DATASETS.switch_scope_and_registry(scope) as registry:
        return registry.get(dataset.get('type'))


def dataset_setting(dataset: dict, name: str, scope: Optional[str]):
    """A dataset config's ``name`` argument (``img_suffix``, ...): the
    config's, else the default of the class that builds it (the first class
    in its MRO whose ``__init__`` names it), else None."""
    if name in dataset:
        return dataset[name]
    for cls in (dataset_class(dataset, scope) or object).__mro__:
        parameter = inspect.signature(cls.__init__).parameters.get(name)
        if parameter is not None and \
                parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return None


def leaf_datasets(dataset: dict) -> List[dict]:
    """The datasets a dataset config reads, through the wrappers
    (``dataset=``, ``datasets=[...]``)."""
    if 'datasets' in dataset:
        return [leaf for inner in dataset['datasets']
                for leaf in leaf_datasets(inner)]
    if 'dataset' in dataset:
        return leaf_datasets(dataset['dataset'])
    return [dataset]


def _first_missing(dataset: dict) -> Optional[str]:
    root = dataset.get('data_root') or ''
    if root and not osp.isdir(root):
        return root
    prefixes = dataset.get('data_prefix') or {}
    if isinstance(prefixes, str):
        prefixes = {'prefix': prefixes}
    paths = [osp.join(root, prefix) for prefix in prefixes.values() if prefix]
    if dataset.get('ann_file'):
        paths.append(osp.join(root, dataset['ann_file']))
    return next((path for path in paths if not osp.exists(path)), None)


def _files(folder: str, suffix: str) -> List[str]:
    """Paths under ``folder``, relative to it, ending with ``suffix``."""
    return sorted(osp.relpath(osp.join(top, name), folder)
                  for top, _, names in os.walk(folder, followlinks=True)
                  for name in names if name.endswith(suffix))


def _split_problem(dataset: dict, scope: Optional[str]) -> Optional[str]:
    """Why a segmentation split whose folders exist holds nothing to read:
    no image, or images without their label maps (MMSegmentation pairs
    ``<img_path>/<stem><img_suffix>`` with ``<seg_map_path>/<stem>
    <seg_map_suffix>``). None when it looks complete, or is not laid out in
    such folders (an ``ann_file`` lists its samples)."""
    prefixes = dataset.get('data_prefix')
    if not isinstance(prefixes, dict) or not prefixes.get('img_path') or \
            dataset.get('ann_file'):
        return None
    root = dataset.get('data_root') or ''
    image_dir = osp.join(root, prefixes['img_path'])
    image_suffix = dataset_setting(dataset, 'img_suffix', scope) or ''
    label_suffix = dataset_setting(dataset, 'seg_map_suffix', scope)
    labelled = bool(prefixes.get('seg_map_path') and label_suffix)
    layout = f'{image_dir}/**/<name>{image_suffix}'
    if labelled:
        label_dir = osp.join(root, prefixes['seg_map_path'])
        layout += f' with {label_dir}/**/<name>{label_suffix}'
    images = _files(image_dir, image_suffix)
    if not images:
        return f'{image_dir} holds no *{image_suffix} image (expected ' \
            f'{layout})'
    if not labelled:
        return None
    unlabelled = [osp.join(label_dir, image[:len(image) - len(image_suffix)]
                           + label_suffix) for image in images]
    unlabelled = [path for path in unlabelled if not osp.isfile(path)]
    if unlabelled:
        return (f'{len(unlabelled)} of the {len(images)} images of '
                f'{image_dir} have no label map, e.g. {unlabelled[0]} '
                f'(expected {layout})')
    return None


def dataset_problem(dataset: dict, scope: Optional[str]) -> Optional[str]:
    """One line on what is wrong with a (leaf) dataset config's files, with
    a hint on how to get them; None when nothing is."""
    hint = DATA_HELP.get(dataset.get('type'), OTHER_DATA_HELP)
    missing = _first_missing(dataset)
    if missing is not None:
        return f'{missing} does not exist ({hint})'
    problem = _split_problem(dataset, scope)
    return None if problem is None else f'{problem} ({hint})'
