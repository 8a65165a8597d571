"""The demo (mmkd.benchmark.demo): its schedule (lanes side by side, jobs
in a lane in turn, the CPU cores split between the lanes) and the BDD
setting it takes from the benchmark's chosen settings (the training itself
is the runner's, tested in test_tools.py and test_benchmark_runs.py)."""
import json
import os
import threading

from mmengine.config import Config

from mmkd.benchmark import demo
from mmkd.models.builder import config_path


def test_lanes_train_side_by_side_and_their_jobs_in_turn(monkeypatch):
    both_lanes_running = threading.Barrier(2, timeout=10)
    calls = []

    def trained(config, work_dir, options, upstream, reuse, quiet, threads):
        calls.append((config, threads, reuse))
        if config in ('teacher.py', 'student_backbone.py'):
            # Returns only once the other lane has started too.
            both_lanes_running.wait()
        return dict(settings=f'digest of {config}', checkpoint=work_dir,
                    reused=False)

    monkeypatch.setattr(demo, 'trained', trained)
    monkeypatch.setattr(os, 'cpu_count', lambda: 2)
    records = demo.train_in_lanes([
        [('teacher', 'teacher.py', 'work_dirs/t', [], ())],
        [('student backbone', 'student_backbone.py', 'work_dirs/b', [], ()),
         ('student', 'student.py', 'work_dirs/s', [], ('digest', ))]],
        reuse=True)
    assert {label: record['settings'] for label, record in records.items()} \
        == {'teacher': 'digest of teacher.py',
            'student backbone': 'digest of student_backbone.py',
            'student': 'digest of student.py'}
    # One thread per lane; the student after its backbone.
    assert sorted(calls) == [('student.py', 1, True),
                             ('student_backbone.py', 1, True),
                             ('teacher.py', 1, True)]
    assert calls.index(('student.py', 1, True)) > \
        calls.index(('student_backbone.py', 1, True))

    calls.clear()
    demo.train_in_lanes([[('bdd', 'bdd.py', 'work_dirs/d', [], ())]],
                        reuse=False)
    assert calls == [('bdd.py', 2, False)]  # a lane alone gets both cores


def test_bdd_is_the_form_and_setting_with_the_best_val_figure(tmp_path):
    sweep = tmp_path / 'sweep.json'
    sweep.write_text(json.dumps(dict(
        chosen=dict(bdd=dict(setting='rw0_3', options=['a=1']),
                    bdd_spatial=dict(setting='w5', options=['b=2']),
                    kd=dict(setting='default', options=[])),
        val={'bdd/rw0_3': 83.0, 'bdd_spatial/w5': 83.5,
             'kd/default': 90.0})))
    method, setting, config, options, value = demo.chosen_bdd(str(sweep))
    assert (method, setting, options, value) == ('bdd_spatial', 'w5',
                                                 ['b=2'], 83.5)
    assert Config.fromfile(config_path(config)).model.distill_losses[
        'loss_bdd'].distribution == 'spatial'


def test_the_shipped_choice_names_a_bdd_config_and_its_options():
    method, setting, config, options, _ = demo.chosen_bdd()
    cfg = Config.fromfile(config_path(config))
    assert method in demo.BDD_CONFIGS and cfg.model.distill_losses.loss_bdd
    assert all(option.startswith('model.distill_losses.loss_bdd.')
               for option in options)
