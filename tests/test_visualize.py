"""tools/visualize.py and mmkd.visualization: the per-image mIoU and KL by
hand, the ground truth found by the dataset layout, and the tool drawing
a DigitScapes pair with random weights."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmkd.datasets import write_digitscapes
from mmkd.models.builder import save_initial_checkpoint
from mmkd.visualization import image_miou, label_path, pixel_kl

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITSCAPES = osp.join(ROOT, 'configs', 'digitscapes')
PAIR = osp.join(DIGITSCAPES, 'pspnet_r18w16_to_r18w8_digitscapes_kd.py')
STUDENT = osp.join(DIGITSCAPES, 'pspnet_r18w8_digitscapes.py')
TEACHER = osp.join(DIGITSCAPES, 'pspnet_r18w16_digitscapes.py')


def test_image_miou_by_hand():
    label = np.array([[0, 0, 1, 1],
                      [0, 0, 1, 255]])
    prediction = np.array([[0, 1, 1, 1],
                           [0, 0, 2, 2]])
    # class 0: 3 of 4; class 1: 2 of 4 (the 255 pixel left out); class 2:
    # predicted once on a labelled pixel, never labelled: 0 of 1
    assert image_miou(prediction, label, 3) == pytest.approx(
        100 * (3 / 4 + 2 / 4 + 0) / 3)


def test_pixel_kl_by_hand_and_zero_for_equal_logits():
    teacher = torch.zeros(2, 1, 1)  # p = (1/2, 1/2)
    student = torch.tensor([0.0, np.log(3.0)]).view(2, 1, 1)  # q = (1/4, 3/4)
    expected = 0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    assert pixel_kl(teacher, student).item() == pytest.approx(expected)
    logits = torch.randn(5, 3, 4)
    assert torch.allclose(pixel_kl(logits, logits), torch.zeros(3, 4),
                          atol=1e-6)


@pytest.fixture(scope='module')
def digitscapes(tmp_path_factory):
    """DigitScapes under <tmp>/data/digitscapes, where the configs look
    from <tmp>; random weights for the student and the teacher."""
    root = tmp_path_factory.mktemp('visualize')
    write_digitscapes(str(root / 'data' / 'digitscapes'))
    student = root / 'student.pth'
    teacher = root / 'teacher.pth'
    save_initial_checkpoint(Config.fromfile(STUDENT).model, str(student))
    save_initial_checkpoint(Config.fromfile(TEACHER).model, str(teacher),
                           seed=1)
    return root, student, teacher


def test_the_label_map_is_found_by_the_dataset_layout(digitscapes,
                                                      monkeypatch):
    root, _, _ = digitscapes
    monkeypatch.chdir(root)
    cfg = Config.fromfile(PAIR)
    image = 'data/digitscapes/leftImg8bit/test/digitown/' \
        'digitown_000000_000003_leftImg8bit.png'
    assert label_path(cfg, image) == 'data/digitscapes/gtFine/test/' \
        'digitown/digitown_000000_000003_gtFine_labelTrainIds.png'
    assert label_path(cfg, 'elsewhere/picture.png') is None


def visualize(root, *args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'visualize.py'), *args],
        cwd=root, capture_output=True, text=True)


def test_a_picture_per_image_with_each_models_miou(digitscapes):
    root, student, teacher = digitscapes
    images = [f'data/digitscapes/leftImg8bit/test/digitown/'
              f'digitown_000000_00000{i}_leftImg8bit.png' for i in (0, 1)]
    result = visualize(root, PAIR, str(student), *images, '--out',
                       str(root / 'pictures'), '--teacher-checkpoint',
                       str(teacher))
    assert result.returncode == 0, result.stderr[-3000:]
    for image in images:
        stem = osp.splitext(osp.basename(image))[0]
        assert (root / 'pictures' / f'{stem}.png').stat().st_size > 0
        assert f'wrote {root / "pictures" / stem}.png (teacher ' in \
            result.stdout
    assert 'mIoU, student ' in result.stdout

    # a student config needs its teacher named
    result = visualize(root, STUDENT, str(student), images[0], '--out',
                       str(root / 'pictures'))
    assert result.returncode == 1
    assert f'{STUDENT} is not a distiller config: name the teacher with ' \
        '--teacher-config and --teacher-checkpoint' in result.stderr
