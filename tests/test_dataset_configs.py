"""The ADE20K and Pascal VOC 2012 + SBD configs (configs/ade20k,
configs/voc12aug): each builds with its real teacher (a checkpoint written
here) and student and trains a step at a 64x64 crop; the KD config of each
dataset trains end to end with the tools' runner on a small dataset in the
real layout (mmkd.synthetic), saves a checkpoint and reports an mIoU. The
loaders check the labels (ADE20K's after its zero-label reduction), the
data check before training names each dataset's expected folders, and the
loss settings, pipelines and teacher checkpoints are those of their
sources."""
import glob
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import OptimWrapper
from mmengine.registry import DATASETS, MODELS, DefaultScope, \
    init_default_scope
from PIL import Image

from mmkd.datasets.layout import leaf_datasets
from mmkd.models.builder import build_model, config_path, \
    save_initial_checkpoint
from mmkd.runner import InputError, check_inputs, train
from mmkd.synthetic import make_seg_batch, write_ade20k_layout, \
    write_voc_layout
from mmkd.transforms import DataError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = {
    # folder: (classes, MMSegmentation's dataset config, data root)
    'ade20k': (150, 'mmseg::_base_/datasets/ade20k.py',
               'data/ade/ADEChallengeData2016'),
    'voc12aug': (21, 'mmseg::_base_/datasets/pascal_voc12_aug.py',
                 'data/VOCdevkit/VOC2012'),
}
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'ade20k', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'voc12aug', '*.py')))
DISTILLERS = [path for path in CONFIGS if '_to_' in osp.basename(path)]
STUDENTS = [path for path in CONFIGS if path not in DISTILLERS]
METHODS = ('kd', 'bdd', 'cwd', 'dist')
CROP = (64, 64)
SCALE = (256, 64)  # (long, short) edge bound, as the configs' (2048, 512)
# the KD config of each dataset trains with the runner; the others a step
RUN = {folder: osp.join(ROOT, 'configs', folder,
                        f'pspnet_r101_to_r18_{folder}_kd.py')
       for folder in DATA}


def folder_of(path):
    return osp.basename(osp.dirname(path))


def load(path):
    return Config.fromfile(path)


def unscoped(node):
    """A config node as plain dicts and lists without the ``_scope_`` keys
    mmengine adds to what a config inherits through ``mmseg::``."""
    if isinstance(node, dict):
        return {key: unscoped(value) for key, value in node.items()
                if key != '_scope_'}
    if isinstance(node, (list, tuple)):
        return [unscoped(value) for value in node]
    return node


def metafile_weights():
    """MMSegmentation's zoo: config name -> (checkpoint URL, mIoU)."""
    weights = {}
    for name in ('pspnet', 'segformer'):
        path = config_path(f'mmseg::{name}/metafile.yaml')
        with open(path) as file:
            for model in yaml.safe_load(file)['Models']:
                weights[model['Name']] = (
                    model['Weights'], model['Results']['Metrics']['mIoU'])
    return weights


@pytest.fixture(scope='module')
def teacher_checkpoints(tmp_path_factory):
    """Written on first use: teacher config -> a checkpoint of it."""
    directory = tmp_path_factory.mktemp('zoo')
    paths = {}

    def checkpoint(config):
        if config not in paths:
            paths[config] = directory / f'teacher{len(paths)}.pth'
            save_initial_checkpoint(config, str(paths[config]))
        return str(paths[config])

    return checkpoint


def shrunk_pipeline(pipeline):
    resized = []
    for transform in pipeline:
        transform = dict(transform)
        if transform['type'] in ('RandomResize', 'Resize'):
            transform['scale'] = SCALE
        elif transform['type'] == 'RandomCrop':
            transform['crop_size'] = CROP
        elif transform['type'] == 'Pad':
            transform['size'] = CROP
        resized.append(transform)
    return resized


def shrink_model(cfg):
    """64x64 inputs, no ImageNet download; returns the student config."""
    student = cfg.model.student if 'student' in cfg.model else cfg.model
    student.pretrained = None
    student.data_preprocessor.size = CROP
    if cfg.get('data_preprocessor') is not None:
        cfg.data_preprocessor.size = CROP  # the runner passes it on
    return student


def tiny(cfg, data_root, iterations=2):
    """``cfg`` on a small dataset at ``data_root``: 64x64 crops, batch 2,
    ``iterations`` iterations, validated and saved at the end."""
    shrink_model(cfg)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        for dataset in leaf_datasets(cfg[loader].dataset):
            dataset.data_root = data_root
            dataset.pipeline = shrunk_pipeline(dataset.pipeline)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = iterations
    cfg.train_cfg.val_interval = iterations
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9,
                                begin=0, end=iterations, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = iterations
    return cfg


WRITERS = {'ade20k': write_ade20k_layout, 'voc12aug': write_voc_layout}


# ---- the configs ---------------------------------------------------------


def test_each_dataset_has_its_student_and_a_config_per_method():
    names = {osp.relpath(path, osp.join(ROOT, 'configs'))
             for path in CONFIGS}
    expected = {'ade20k/pspnet_r18_ade20k.py',
                'ade20k/segformer_b5_to_pspnet_r18_ade20k_kd.py',
                'voc12aug/pspnet_r18_voc12aug.py'}
    expected |= {f'{folder}/pspnet_r101_to_r18_{folder}_{method}.py'
                 for folder in DATA for method in METHODS}
    assert names == expected


@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('folder', DATA)
def test_loss_settings_are_the_cityscapes_ones(folder, method):
    ours = load(osp.join(ROOT, 'configs', folder,
                         f'pspnet_r101_to_r18_{folder}_{method}.py'))
    cityscapes = load(osp.join(ROOT, 'configs',
                               f'pspnet_r101_to_r18_{method}.py'))
    assert ours.model.distill_losses.to_dict() == \
        cityscapes.model.distill_losses.to_dict()
    assert ours.custom_hooks == cityscapes.custom_hooks


def test_segformer_teacher_is_distilled_at_its_finer_resolution():
    segformer = load(osp.join(ROOT, 'configs', 'ade20k',
                              'segformer_b5_to_pspnet_r18_ade20k_kd.py'))
    pspnet = load(RUN['ade20k'])
    assert segformer.model.distill_losses == pspnet.model.distill_losses
    assert segformer.model.distill_size == 'finer'
    assert segformer.model.student == pspnet.model.student
    assert set(segformer.model.teacher) == {'config', 'checkpoint'}
    # the distiller refuses teachers that normalise otherwise
    teacher = Config.fromfile(config_path(segformer.model.teacher.config))
    keys = ('mean', 'std', 'bgr_to_rgb')
    assert {key: teacher.model.data_preprocessor[key] for key in keys} == {
        key: pspnet.model.student.data_preprocessor[key] for key in keys}


@pytest.mark.parametrize('path', DISTILLERS, ids=osp.basename)
def test_teachers_are_the_zoo_models_named_in_the_header(path):
    cfg = load(path)
    name = osp.basename(cfg.model.teacher.config)[:-len('.py')]
    url, miou = metafile_weights()[name]
    assert cfg.model.teacher.checkpoint == url
    with open(path) as file:
        text = file.read()
    if 'teacher=dict(' in text:  # the config that names it quotes its mIoU
        header = text.split('_base_', 1)[0]
        assert f'{miou} mIoU' in header and name in header


@pytest.mark.parametrize('folder', DATA)
def test_students_are_mmsegmentations_r18_on_the_r101_config(folder):
    classes, _, _ = DATA[folder]
    student = load(glob.glob(osp.join(ROOT, 'configs', folder,
                                      'pspnet_r18_*.py'))[0])
    teacher_config = load(RUN[folder]).model.teacher.config
    r101 = Config.fromfile(config_path(teacher_config))
    model = student.model
    assert model.pretrained == 'open-mmlab://resnet18_v1c'
    assert model.backbone.depth == 18
    assert (model.decode_head.in_channels, model.decode_head.channels,
            model.auxiliary_head.in_channels,
            model.auxiliary_head.channels) == (512, 128, 256, 64)
    assert model.decode_head.num_classes == \
        model.auxiliary_head.num_classes == classes
    # everything else: MMSegmentation's config of the teacher
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper',
                'val_evaluator'):
        assert unscoped(student[key]) == unscoped(r101[key]), key
    assert student.train_dataloader.batch_size == \
        r101.train_dataloader.batch_size


@pytest.mark.parametrize('folder', DATA)
def test_pipelines_are_mmsegmentations_with_checked_loaders(folder):
    classes, dataset_config, _ = DATA[folder]
    cfg = load(glob.glob(osp.join(ROOT, 'configs', folder,
                                  'pspnet_r18_*.py'))[0])
    mmseg = Config.fromfile(config_path(dataset_config))
    loader = dict(type='mmkd.LoadCheckedAnnotations', num_classes=classes)
    if folder == 'ade20k':
        loader['reduce_zero_label'] = True

    def plain(pipeline):
        return [dict(type='LoadImageFromFile') if transform['type'] ==
                'mmkd.LoadCheckedImage' else dict(
                    transform, type='LoadAnnotations') if transform['type']
                == 'mmkd.LoadCheckedAnnotations' else transform
                for transform in pipeline]

    for ours, theirs in ((cfg.train_dataloader, mmseg.train_dataloader),
                         (cfg.val_dataloader, mmseg.val_dataloader)):
        ours_leaves = leaf_datasets(ours.dataset)
        theirs_leaves = leaf_datasets(theirs.dataset)
        assert len(ours_leaves) == len(theirs_leaves)
        for dataset, reference in zip(ours_leaves, theirs_leaves):
            assert unscoped(dict(dataset, pipeline=None)) == unscoped(
                dict(reference, pipeline=None))
            assert dataset.pipeline[0] == dict(type='mmkd.LoadCheckedImage')
            assert loader in dataset.pipeline
            checked = [dict(transform) for transform in dataset.pipeline]
            for transform in checked:
                transform.pop('num_classes', None)
            assert unscoped(plain(checked)) == unscoped(reference.pipeline)


# ---- building and training -----------------------------------------------


def train_one_step(model, num_classes):
    model.train()
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01))
    return model.train_step(
        make_seg_batch(size=CROP, num_classes=num_classes), optim_wrapper)


@pytest.mark.parametrize(
    'path', [path for path in DISTILLERS if path not in RUN.values()],
    ids=osp.basename)
def test_config_builds_and_trains_one_step(path, teacher_checkpoints):
    cfg = load(path)
    classes, _, _ = DATA[folder_of(path)]
    cfg.model.teacher.checkpoint = teacher_checkpoints(
        cfg.model.teacher.config)
    shrink_model(cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        distiller = MODELS.build(cfg.model)
    compared = []
    loss = next(iter(distiller.distill_losses.values()))
    loss.register_forward_pre_hook(
        lambda module, args: compared.append(
            [tuple(tensor.shape) for tensor in args]))
    log_vars = train_one_step(distiller, classes)
    for name in cfg.model.distill_losses:
        assert torch.isfinite(log_vars[f'distill.{name}'])
    assert torch.isfinite(log_vars['loss'])
    if cfg.model.get('distill_size') == 'finer':
        # SegFormer's 1/4 map, not the student's 1/8 one
        assert compared == [[(2, classes, 16, 16)] * 2]
    else:
        assert compared[0] == [(2, classes, 8, 8)] * 2


@pytest.mark.parametrize('path', STUDENTS, ids=osp.basename)
def test_student_config_builds_and_trains_one_step(path):
    cfg = load(path)
    classes, _, _ = DATA[folder_of(path)]
    model = build_model(shrink_model(cfg), cfg.default_scope)
    log_vars = train_one_step(model, classes)
    assert torch.isfinite(log_vars['loss'])


@pytest.mark.parametrize('folder', DATA)
def test_kd_config_trains_on_the_real_layout(folder, teacher_checkpoints,
                                             tmp_path):
    """Two iterations with the tools' runner (data check, checksummed
    checkpoints): finite losses, a checkpoint, an mIoU."""
    data_root = WRITERS[folder](str(tmp_path / 'data'))
    cfg = tiny(load(RUN[folder]), data_root)
    cfg.model.teacher.checkpoint = teacher_checkpoints(
        cfg.model.teacher.config)
    config = tmp_path / 'tiny.py'
    cfg.dump(str(config))
    runner = train(str(config), work_dir=str(tmp_path / 'work'))
    scalars = runner.message_hub.log_scalars
    losses = [key for key in scalars
              if key.startswith('train/') and 'loss' in key]
    assert {'train/loss', 'train/decode.loss_ce', 'train/aux.loss_ce',
            'train/distill.loss_kd'} <= set(losses)
    for key in losses:
        assert np.isfinite(scalars[key].current()), key
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    miou = scalars['val/mIoU'].current()
    assert 0 <= miou <= 100


# ---- loading ----------------------------------------------------------------


def ade20k_dataset(data_root, pipeline):
    init_default_scope('mmseg')
    cfg = load(RUN['ade20k'])
    return DATASETS.build(dict(cfg.val_dataloader.dataset,
                               data_root=data_root, pipeline=pipeline))


def test_ade20k_labels_are_reduced_before_they_are_checked(tmp_path):
    data_root = write_ade20k_layout(str(tmp_path))
    pipeline = load(RUN['ade20k']).checked_test_pipeline
    data = ade20k_dataset(data_root, pipeline)
    sample = data[0]['data_samples']
    written = cv2.imread(sample.seg_map_path, cv2.IMREAD_UNCHANGED)
    assert 0 in written and len(np.unique(written)) > 2
    loaded = sample.gt_sem_seg.data[0].numpy()
    expected = np.where(written == 0, 255, written.astype(int) - 1)
    np.testing.assert_array_equal(loaded, expected)
    assert set(np.unique(loaded)) <= set(range(150)) | {255}

    # 151 is no ADE20K class: 150 after the reduction, and refused
    written[5, 5] = 151
    cv2.imwrite(sample.seg_map_path, written)
    with pytest.raises(DataError, match=(
            rf'label map {sample.seg_map_path}: values \[150\] are neither '
            rf'classes \[0, 150\) nor the ignore index 255')):
        data[0]


def test_voc_labels_keep_their_borders_and_read_as_indices(tmp_path):
    data_root = write_voc_layout(str(tmp_path))
    init_default_scope('mmseg')
    cfg = load(RUN['voc12aug'])
    pipeline = Compose(cfg.checked_test_pipeline)
    for dataset in leaf_datasets(cfg.train_dataloader.dataset):
        data = DATASETS.build(dict(dataset, data_root=data_root,
                                   pipeline=[]))
        for info in (data[index] for index in range(len(data))):
            written = np.asarray(Image.open(info['seg_map_path']))
            loaded = pipeline(info)['data_samples'].gt_sem_seg.data[0]
            np.testing.assert_array_equal(loaded.numpy(), written)
            aug = 'SegmentationClassAug' in info['seg_map_path']
            assert (255 in written) != aug  # SBD maps have no borders
            assert set(np.unique(written)) - {0, 255} <= set(range(1, 21))
    assert Image.open(osp.join(data_root, 'SegmentationClass',
                               os.listdir(osp.join(
                                   data_root, 'SegmentationClass'))[0])
                      ).mode == 'P'


# ---- the data check before training ----------------------------------------


def data_errors(path, cwd, monkeypatch):
    """The lines of the error the tools stop with before building."""
    monkeypatch.chdir(cwd)
    with pytest.raises(InputError) as error:
        check_inputs(load(path), ['train_dataloader', 'val_dataloader'])
    return str(error.value).splitlines()


ADE20K_HINT = (
    '(expected ADEChallengeData2016/images/{training,validation}/*.jpg and '
    'ADEChallengeData2016/annotations/{training,validation}/*.png, as '
    'ADEChallengeData2016.zip unpacks; docs/datasets.md in the mmkd '
    'repository shows how to prepare ADE20K)')
VOC_HINT = (
    '(expected VOCdevkit/VOC2012/JPEGImages, SegmentationClass and '
    'ImageSets/Segmentation/{train,val}.txt from VOCtrainval_11-May-2012.tar, '
    'and SegmentationClassAug and ImageSets/Segmentation/aug.txt, which '
    "MMSegmentation's tools/dataset_converters/voc_aug.py writes from SBD; "
    'docs/datasets.md in the mmkd repository shows how to prepare Pascal VOC '
    '2012 + SBD)')


def test_missing_ade20k_is_named_with_its_folders(tmp_path, monkeypatch):
    root = DATA['ade20k'][2]
    assert data_errors(RUN['ade20k'], tmp_path, monkeypatch) == [
        f'error: train_dataloader: {root} does not exist {ADE20K_HINT}',
        f'error: val_dataloader: {root} does not exist {ADE20K_HINT}']
    write_ade20k_layout(str(tmp_path / root))
    check_inputs(load(RUN['ade20k']), ['train_dataloader', 'val_dataloader'])
    shutil.rmtree(tmp_path / root / 'annotations' / 'validation')
    label = tmp_path / root / 'annotations/training/ADE_train_00000002.png'
    label.unlink()
    assert data_errors(RUN['ade20k'], tmp_path, monkeypatch) == [
        f'error: train_dataloader: 1 of the 2 images of '
        f'{root}/images/training have no label map, e.g. '
        f'{root}/annotations/training/ADE_train_00000002.png (expected '
        f'{root}/images/training/**/<name>.jpg with '
        f'{root}/annotations/training/**/<name>.png) {ADE20K_HINT}',
        f'error: val_dataloader: {root}/annotations/validation does not '
        f'exist {ADE20K_HINT}']


def test_missing_voc_is_named_with_its_folders(tmp_path, monkeypatch):
    root = DATA['voc12aug'][2]
    path = RUN['voc12aug']
    # the two training datasets (VOC, SBD) and the val one
    assert data_errors(path, tmp_path, monkeypatch) == [
        f'error: train_dataloader: {root} does not exist {VOC_HINT}'] * 2 + [
        f'error: val_dataloader: {root} does not exist {VOC_HINT}']
    write_voc_layout(str(tmp_path / root))
    check_inputs(load(path), ['train_dataloader', 'val_dataloader'])
    # VOC unpacked, SBD not converted yet
    shutil.rmtree(tmp_path / root / 'SegmentationClassAug')
    assert data_errors(path, tmp_path, monkeypatch) == [
        f'error: train_dataloader: {root}/SegmentationClassAug does not '
        f'exist {VOC_HINT}']
    os.makedirs(tmp_path / root / 'SegmentationClassAug')
    listed = (tmp_path / root / 'ImageSets/Segmentation/aug.txt'
              ).read_text().split()
    assert data_errors(path, tmp_path, monkeypatch) == [
        f'error: train_dataloader: 2 of the 2 samples listed in '
        f'{root}/ImageSets/Segmentation/aug.txt have no label map, e.g. '
        f'{root}/SegmentationClassAug/{listed[0]}.png (expected '
        f'{root}/SegmentationClassAug/<name>.png) {VOC_HINT}']
    (tmp_path / root / 'ImageSets/Segmentation/aug.txt').unlink()
    assert data_errors(path, tmp_path, monkeypatch) == [
        f'error: train_dataloader: {root}/ImageSets/Segmentation/aug.txt '
        f'does not exist {VOC_HINT}']
