"""Bad samples stop a run with the file's name (or are skipped with a
warning where the config says so), in the main process and inside
dataloader workers alike."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, init_default_scope
from torch.utils.data import DataLoader

from mmkd import transforms as transforms_module
from mmkd.transforms import DataError, plain_loaders
from mmkd.synthetic import write_cityscapes_layout

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture
def cityscapes(tmp_path):
    return write_cityscapes_layout(str(tmp_path), images_per_city=1,
                                   size=(32, 64))


def dataset(root, skip_bad=False, test_mode=False):
    init_default_scope('mmseg')
    return DATASETS.build(dict(
        type='CityscapesDataset', data_root=root, test_mode=test_mode,
        data_prefix=dict(img_path='leftImg8bit/train',
                         seg_map_path='gtFine/train'),
        pipeline=[
            dict(type='mmkd.LoadCheckedImage', skip_bad=skip_bad),
            dict(type='mmkd.LoadCheckedAnnotations', num_classes=19,
                 skip_bad=skip_bad),
            dict(type='PackSegInputs')
        ]))


def first_sample(root):
    image = sorted(glob.glob(f'{root}/leftImg8bit/train/*/*.png'))[0]
    label = sorted(glob.glob(f'{root}/gtFine/train/*/*labelTrainIds.png'))[0]
    return image, label


def test_good_samples_load(cityscapes):
    data = dataset(cityscapes)
    assert len(data) == 2
    sample = data[0]['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 32, 64)


def break_image_missing(image, label):
    os.remove(image)
    return image, rf'image {image} is missing or unreadable'


def break_image_unreadable(image, label):
    with open(image, 'wb') as file:
        file.write(b'not a png')
    return image, rf'image {image} is missing or unreadable'


def break_image_empty(image, label):
    open(image, 'wb').close()  # 0 bytes: OpenCV's decoder raises cv2.error
    return image, rf'image {image} is missing or unreadable'


def break_label_empty(image, label):
    open(label, 'wb').close()
    return label, rf'label map {label} is missing or unreadable'


def break_label_missing(image, label):
    os.remove(label)
    return label, rf'label map {label} is missing or unreadable'


def break_label_unreadable(image, label):
    with open(label, 'wb') as file:
        file.write(b'\x89PNG broken')
    return label, rf'label map {label} is missing or unreadable'


def break_label_values(image, label):
    labels = cv2.imread(label, cv2.IMREAD_UNCHANGED)
    labels[0, :3] = [19, 40, 254]
    cv2.imwrite(label, labels)
    return label, (rf'label map {label}: values \[19, 40, 254\] are neither '
                   rf'classes \[0, 19\) nor the ignore index 255')


def break_label_size(image, label):
    cv2.imwrite(label, np.zeros((16, 64), np.uint8))
    return label, (rf'label map {label}: 16x64 pixels, but its image '
                   rf'{image} has 32x64')


BREAKS = [break_image_missing, break_image_unreadable, break_image_empty,
          break_label_missing, break_label_unreadable, break_label_empty,
          break_label_values, break_label_size]


@pytest.mark.parametrize('damage', BREAKS, ids=lambda f: f.__name__[6:])
def test_a_bad_sample_is_refused_with_its_file(cityscapes, damage):
    # Built first: the dataset lists the images it finds, so an image must
    # go missing after that (as on storage that changes under a run).
    data = dataset(cityscapes)
    _, message = damage(*first_sample(cityscapes))
    with pytest.raises(DataError, match=message):
        data[0]
    data[1]  # the other sample is fine


@pytest.mark.parametrize('damage', [break_image_unreadable,
                                    break_label_values],
                         ids=lambda f: f.__name__[6:])
def test_a_worker_process_error_names_the_file(cityscapes, damage):
    data = dataset(cityscapes)
    bad_file, _ = damage(*first_sample(cityscapes))
    loader = DataLoader(data, batch_size=2, num_workers=1,
                        collate_fn=pseudo_collate)
    with pytest.raises(DataError) as error:
        next(iter(loader))
    assert bad_file in str(error.value)


@pytest.mark.parametrize('damage', BREAKS, ids=lambda f: f.__name__[6:])
def test_skip_bad_logs_and_draws_another_sample(cityscapes, damage,
                                                 monkeypatch):
    data = dataset(cityscapes, skip_bad=True)
    bad_file, _ = damage(*first_sample(cityscapes))
    logged = []
    monkeypatch.setattr(transforms_module, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    good = data[1]['data_samples'].img_path
    assert data[0]['data_samples'].img_path == good
    # the dataset draws at random and may meet the bad sample again
    assert logged and all(bad_file in message and
                          message.endswith('sample skipped')
                          for message in logged)


def test_test_mode_datasets_refuse_skipped_samples(cityscapes):
    data = dataset(cityscapes, skip_bad=True, test_mode=True)
    break_label_values(*first_sample(cityscapes))
    with pytest.raises(Exception, match='should not get `None`'):
        data[0]


@pytest.mark.parametrize('name', ['pspnet', 'deeplabv3'])
def test_cityscapes_configs_check_their_data_and_train_as_mmseg(name):
    """The distill configs load with the checked loaders; the rest of the
    training pipeline is MMSegmentation's."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', f'{name}_r101_to_r18_kd.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert pipeline[:2] == [
        dict(type='mmkd.LoadCheckedImage'),
        dict(type='mmkd.LoadCheckedAnnotations', num_classes=19)]
    path, _ = Config._get_cfg_path('mmseg::_base_/datasets/cityscapes.py',
                                   '')
    mmseg = Config.fromfile(path).train_pipeline
    assert [t['type'] for t in mmseg[:2]] == ['LoadImageFromFile',
                                              'LoadAnnotations']
    assert pipeline[2:] == mmseg[2:]
    assert cfg.model.student.decode_head.num_classes == 19


def test_plain_configs_get_the_loaders_the_checked_ones_extend():
    pipeline = [
        dict(type='mmkd.LoadCheckedImage', skip_bad=True),
        dict(type='mmkd.LoadCheckedAnnotations', num_classes=19,
             ignore_index=255, skip_bad=True, reduce_zero_label=True),
        dict(type='RandomFlip', prob=0.5),
    ]
    assert plain_loaders(dict(dataset=dict(pipeline=pipeline))) == dict(
        dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='RandomFlip', prob=0.5),
        ]))
