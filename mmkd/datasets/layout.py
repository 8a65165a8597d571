"""Where a dataset config's files are, and whether they are there: the
defaults of the class a dataset config builds, and the check the tools run
before they build anything (:func:`mmkd.runner.check_inputs`)."""
import inspect
import os
import os.path as osp
from typing import List, Optional

__all__ = ['dataset_class', 'dataset_setting', 'leaf_datasets',
           'dataset_problem', 'data_help', 'DATA_HELP']

#: what to do about a missing dataset, by dataset type
DATA_HELP = {
    'CityscapesDataset': 'docs/cityscapes.md in the mmkd repository shows '
    'how to prepare Cityscapes',
    'mmkd.DigitScapesDataset': 'python tools/make_digitscapes.py '
    'data/digitscapes, or mmkd.datasets.write_digitscapes, builds it',
    'ADE20KDataset': 'expected ADEChallengeData2016/images/'
    '{training,validation}/*.jpg and ADEChallengeData2016/annotations/'
    '{training,validation}/*.png, as ADEChallengeData2016.zip unpacks; '
    'docs/datasets.md in the mmkd repository shows how to prepare ADE20K',
    'PascalVOCDataset': 'expected VOCdevkit/VOC2012/JPEGImages, '
    'SegmentationClass and ImageSets/Segmentation/{train,val}.txt from '
    'VOCtrainval_11-May-2012.tar, and SegmentationClassAug and '
    'ImageSets/Segmentation/aug.txt, which MMSegmentation\'s '
    'tools/dataset_converters/voc_aug.py writes from SBD; docs/datasets.md '
    'in the mmkd repository shows how to prepare Pascal VOC 2012 + SBD',
}
OTHER_DATA_HELP = 'see how the dataset is prepared for MMSegmentation'


def data_help(dataset: dict) -> str:
    """How to get a missing dataset of the (leaf) dataset config
    ``dataset``, by its type, with or without the ``mmseg.`` scope."""
    kind = dataset.get('type')
    if not isinstance(kind, str):
        return OTHER_DATA_HELP
    if kind.startswith('mmseg.'):
        kind = kind[len('mmseg.'):]
    return DATA_HELP.get(kind, OTHER_DATA_HELP)


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


def _is_segmentation(dataset: dict, scope: Optional[str]) -> bool:
    """Whether a dataset config builds an MMSegmentation dataset (whose
    ``ann_file`` lists one sample name a line)."""
    cls = dataset_class(dataset, scope)
    return cls is not None and any(
        base.__name__ == 'BaseSegDataset' and
        base.__module__.startswith('mmseg.') for base in cls.__mro__)


def _listed_problem(dataset: dict, scope: Optional[str]) -> Optional[str]:
    """Why a segmentation split that lists its samples in ``ann_file`` (as
    Pascal VOC's ``ImageSets/Segmentation/*.txt`` do) cannot be read: it
    lists none, or a listed sample has no image or no label map
    (MMSegmentation reads ``<img_path>/<name><img_suffix>`` and
    ``<seg_map_path>/<name><seg_map_suffix>``). None when it looks complete
    or is not such a split."""
    prefixes = dataset.get('data_prefix')
    if not isinstance(prefixes, dict) or not prefixes.get('img_path') or \
            not dataset.get('ann_file') or \
            not _is_segmentation(dataset, scope):
        return None
    root = dataset.get('data_root') or ''
    listing = osp.join(root, dataset['ann_file'])
    if not osp.isfile(listing):
        return None
    with open(listing) as file:
        names = [line.strip() for line in file if line.strip()]
    if not names:
        return f'{listing} lists no sample'
    folders = [(osp.join(root, prefixes['img_path']),
                dataset_setting(dataset, 'img_suffix', scope) or '',
                'image')]
    label_suffix = dataset_setting(dataset, 'seg_map_suffix', scope)
    if prefixes.get('seg_map_path') and label_suffix:
        folders.append((osp.join(root, prefixes['seg_map_path']),
                        label_suffix, 'label map'))
    for folder, suffix, what in folders:
        missing = [path for path in (osp.join(folder, name + suffix)
                                     for name in names)
                   if not osp.isfile(path)]
        if missing:
            return (f'{len(missing)} of the {len(names)} samples listed in '
                    f'{listing} have no {what}, e.g. {missing[0]} (expected '
                    f'{folder}/<name>{suffix})')
    return None


def dataset_problem(dataset: dict, scope: Optional[str]) -> Optional[str]:
    """One line on what is wrong with a (leaf) dataset config's files, with
    a hint on how to get them; None when nothing is."""
    hint = data_help(dataset)
    missing = _first_missing(dataset)
    if missing is not None:
        return f'{missing} does not exist ({hint})'
    problem = _split_problem(dataset, scope) or _listed_problem(dataset, scope)
    return None if problem is None else f'{problem} ({hint})'
