"""mmkd.evaluation: InteriorIoUMetric (IoUMetric away from label changes),
and output_stride_ceiling with tools/stride_ceiling.py (the mIoU that a
decode head's output stride leaves reachable)."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mmengine.registry import METRICS

from mmkd.evaluation import (InteriorIoUMetric, near_label_change,
                             output_stride_ceiling)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_near_label_change_is_the_window_around_each_change():
    labels = torch.zeros(5, 5, dtype=torch.long)
    labels[2, 2] = 1
    near = torch.zeros(5, 5, dtype=torch.bool)
    near[1:4, 1:4] = True
    assert torch.equal(near_label_change(labels, 1), near)
    assert near_label_change(labels, 2).all()
    # a constant map has no change, its border included
    assert not near_label_change(torch.full((4, 6), 3), 1).any()


def sample(prediction, labels):
    """One model output as mmengine's Evaluator hands it to a metric."""
    return dict(pred_sem_seg=dict(data=prediction[None]),
                gt_sem_seg=dict(data=labels[None]))


def test_interior_iou_leaves_out_the_pixels_beside_a_change():
    # Class 0 on columns 0-2, class 1 on 3-5; band 1 leaves out columns 2
    # and 3. Two wrong pixels: (0, 0) predicted 1 counts, (0, 2) does not.
    # Kept: class 0 IoU 11/12, class 1 IoU 12/13.
    labels = torch.zeros(6, 6, dtype=torch.long)
    labels[:, 3:] = 1
    prediction = labels.clone()
    prediction[0, 0] = prediction[0, 2] = 1
    metric = METRICS.build(dict(type='mmkd.InteriorIoUMetric', band=1))
    assert isinstance(metric, InteriorIoUMetric)
    metric.dataset_meta = dict(classes=('zero', 'one'))
    metric.process({}, [sample(prediction, labels)])
    scores = metric.evaluate(1)
    assert scores['interior/mIoU'] == pytest.approx(
        round(100 * (11 / 12 + 12 / 13) / 2, 2))
    # the input is left as it was
    assert labels[:, 2].eq(0).all() and labels[:, 3].eq(1).all()


@pytest.mark.parametrize('kwargs, message', [
    (dict(band=0), 'band must be an int >= 1'),
    (dict(band=1.5), 'band must be an int >= 1'),
    (dict(format_only=True), 'format_only has none'),
])
def test_interior_iou_names_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InteriorIoUMetric(**kwargs)


def test_one_pixel_in_a_cell_of_four_is_lost():
    # The cell holds class 1 on 1 pixel of 4: its logits are log 1/4 and
    # log 3/4, background wins everywhere. Background IoU 15/16, class 1
    # IoU 0: mIoU 46.875.
    labels = torch.zeros(4, 4, dtype=torch.long)
    labels[0, 0] = 1
    assert output_stride_ceiling([labels], 2, 2) == pytest.approx(46.875)


def test_ignored_pixels_neither_vote_nor_count():
    # The same cell with its other 3 pixels ignored: class 1 holds all of
    # its labelled pixels and is predicted on the cell; nothing is wrong.
    labels = torch.zeros(4, 4, dtype=torch.long)
    labels[:2, :2] = 255
    labels[0, 0] = 1
    assert output_stride_ceiling([labels], 2, 2) == 100.0


def test_stripes_of_whole_cells_are_seen_exactly():
    # Along one axis each pixel's own cell weighs more than half in the
    # bilinear resize, whatever class the neighbouring stripe holds.
    generator = torch.Generator().manual_seed(0)
    stripes = torch.randint(0, 5, (5, ), generator=generator)
    labels = stripes.repeat_interleave(4)[None].expand(8, 20)
    assert output_stride_ceiling([labels, labels.t()], 4, 5) == 100.0
    fine = torch.randint(0, 5, (2, 12, 20), generator=generator)
    assert output_stride_ceiling(fine, 1, 5) == 100.0


def test_a_corner_of_one_cell_against_three_is_cut():
    # Class 1 fills the top-left cell of four. At its corner pixel (3, 3)
    # the bilinear weight of its own cell is 0.625 * 0.625 = 0.39, of the
    # three background cells 0.61: background wins there, and only there
    # (at (2, 3) the own cell weighs 0.875 * 0.625 = 0.55). Class 1 IoU
    # 15/16, background 48/49.
    labels = torch.zeros(8, 8, dtype=torch.long)
    labels[:4, :4] = 1
    assert output_stride_ceiling([labels], 4, 2) == pytest.approx(
        100 * (15 / 16 + 48 / 49) / 2)


def test_a_checkerboard_finer_than_the_cells_is_lost():
    # Every 2x2 cell is half class 0, half class 1: tied logits, the argmax
    # takes class 0 everywhere. IoU 8/16 for class 0, 0 for class 1.
    labels = (torch.arange(4)[:, None] + torch.arange(4)) % 2
    assert output_stride_ceiling([labels], 2, 2) == pytest.approx(25.0)


def test_maps_are_scored_together_as_iou_metric_scores_a_split():
    # Areas add up over maps before the ratio: 46.875 on one map and 100
    # on the other would average to 73.4; summed, background is
    # (15 + 12) / (16 + 12) and class 1 is (0 + 4) / (1 + 4).
    lost = torch.zeros(4, 4, dtype=torch.long)
    lost[0, 0] = 1
    found = torch.zeros(4, 4, dtype=torch.long)
    found[:2, :2] = 1
    assert output_stride_ceiling([lost, found], 2, 2) == pytest.approx(
        100 * (27 / 28 + 4 / 5) / 2)


@pytest.mark.parametrize('labels, stride, message', [
    (torch.zeros(2, 4, 4, dtype=torch.long), 2, r'must be \[H, W\]'),
    (torch.zeros(6, 4, dtype=torch.long), 4, r'cells of 4'),
    (torch.full((4, 4), 3, dtype=torch.long), 2, r'outside 0\.\.1'),
    (torch.full((4, 4), 255, dtype=torch.long), 2, 'no labelled pixel'),
    (torch.zeros(4, 4, dtype=torch.long), 0, 'stride must be an int >= 1'),
])
def test_bad_label_maps_are_named(labels, stride, message):
    with pytest.raises(ValueError, match=message):
        output_stride_ceiling([labels], stride, 2)


def test_the_tool_prints_the_ceiling_of_each_split_and_stride(tmp_path):
    maps = {'val': torch.zeros(8, 8, dtype=torch.long),
            'test': torch.zeros(8, 8, dtype=torch.long)}
    maps['val'][0, 0] = 1
    maps['test'][:4, :4] = 1
    for split, labels in maps.items():
        folder = tmp_path / 'gtFine' / split / 'town'
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / 'town_0_0_gtFine_labelTrainIds.png'),
                    labels.numpy().astype(np.uint8))
    result = subprocess.run(
        [sys.executable, 'tools/stride_ceiling.py', str(tmp_path),
         '--num-classes', '2', '--strides', '1', '4'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    # rows as "| val (1 maps) | 100.00 | 49.22 |"
    rows = {line.split()[1]: [float(value) for value in
                              re.findall(r'\| (\d+\.\d+)', line)]
            for line in result.stdout.splitlines()
            if line.startswith(('| val', '| test'))}
    for split, labels in maps.items():
        assert rows[split] == [
            100.0, round(output_stride_ceiling([labels], 4, 2), 2)]
    assert rows['val'][1] != rows['test'][1]


def test_the_tool_names_a_missing_dataset(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/stride_ceiling.py', str(tmp_path / 'none'),
         '--num-classes', '2'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert 'error: no label maps match' in result.stderr


def test_the_tool_names_a_bad_label_map(tmp_path):
    folder = tmp_path / 'gtFine' / 'val' / 'town'
    folder.mkdir(parents=True)
    good = folder / 'town_0_0_gtFine_labelTrainIds.png'
    bad = folder / 'town_0_1_gtFine_labelTrainIds.png'
    cv2.imwrite(str(good), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(bad), np.full((8, 8), 7, np.uint8))
    result = subprocess.run(
        [sys.executable, 'tools/stride_ceiling.py', str(tmp_path),
         '--num-classes', '2', '--splits', 'val'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert f'error: {bad}: a label map holds class ids outside 0..1' in \
        result.stderr


def test_the_tool_names_a_split_without_labelled_pixels(tmp_path):
    folder = tmp_path / 'gtFine' / 'val' / 'town'
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / 'town_0_0_gtFine_labelTrainIds.png'),
                np.full((8, 8), 255, np.uint8))
    result = subprocess.run(
        [sys.executable, 'tools/stride_ceiling.py', str(tmp_path),
         '--num-classes', '2', '--splits', 'val'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert 'error: val: no labelled pixel in the label maps' in result.stderr
