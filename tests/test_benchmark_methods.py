"""The method benchmark (mmkd.benchmark.methods, .pages, .sweeps): the
declared sweep, the choice on val, the runs on test and the pages, on
results made up here (the real runs are the benchmark's job, not the
tests')."""
import dataclasses
import inspect
import json

import pytest
from mmengine.config import Config

from mmkd.benchmark import methods as benchmark_methods
from mmkd.benchmark import pages
from mmkd.benchmark.sweeps import SWEEPS
from mmkd.models.builder import config_path
from mmkd.registry import MODELS

Run = benchmark_methods.Run


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_the_sweep_declares_at_most_four_settings_default_first(task):
    sweeps = SWEEPS[task]
    configs = benchmark_methods.TASKS[task].configs
    for name in [sweeps['teacher'], sweeps['student'], *sweeps['pretrain']]:
        Config.fromfile(config_path(f'{configs}/{name}.py'))  # it exists
    benchmark_methods.check_sweeps(sweeps, task)
    for method, spec in sweeps['methods'].items():
        settings = list(spec['settings'])
        assert settings[0] == 'default' and spec['settings']['default'] == []
        assert len(settings) <= 4, method
        config = Config.fromfile(config_path(
            f'{configs}/{spec["config"]}.py'))
        losses = config.model.distill_losses
        distiller = MODELS.get(config.model.type.split('.')[-1])
        for options in spec['settings'].values():
            for option in options:
                key, _ = option.split('=', 1)
                # every option names a setting of a loss the config has,
                # or an argument of its distiller
                *path, leaf = key.split('.')
                if path == ['model']:
                    assert leaf in inspect.signature(distiller).parameters
                else:
                    assert path[:2] == ['model', 'distill_losses'], option
                    assert leaf in losses[path[2]], option


def sweep_results(values):
    """(method, setting) -> val figure, as Benchmark.run_all returns."""
    return {Run(method, setting, 'c.py', (), 0): {'val': {'mIoU': value}}
            for (method, setting), value in values.items()}


def test_choose_the_best_on_val_the_default_on_ties():
    sweep = sweep_results({
        ('student', 'default'): 50.0,
        ('kd', 'default'): 51.0, ('kd', 'tau4'): 52.5, ('kd', 'w3'): 49.0,
        ('bdd', 'w0_3'): 48.0, ('bdd', 'default'): 48.0,
        ('pcd', 'default'): 40.0, ('pcd', 'w10'): 41.0})
    assert benchmark_methods.choose(sweep, 'mIoU') == {
        'kd': 'tau4', 'bdd': 'default', 'pcd': 'w10'}


def test_final_runs_are_the_student_its_double_and_default_and_chosen():
    sweeps = SWEEPS['seg']
    bench = benchmark_methods.Benchmark(benchmark_methods.TASKS['seg'],
                                        sweeps, jobs=1)
    runs = bench.final_runs({'kd': 'tau4', 'bdd': 'default'}, [0, 1, 2])
    rows = list(dict.fromkeys((r.method, r.setting) for r in runs))
    assert rows == [('student', 'default'), ('student', 'double_schedule'),
                    ('kd', 'default'), ('kd', 'tau4'), ('bdd', 'default')]
    assert [r.seed for r in runs] == [0, 1, 2] * len(rows)
    double = next(r for r in runs if r.setting == 'double_schedule')
    assert double.options == tuple(sweeps['double_schedule'])
    tau4 = next(r for r in runs if r.setting == 'tau4')
    assert tau4.options == ('model.distill_losses.loss_kd.tau=4.0', )


def test_pages_from_made_up_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'docs').mkdir()
    task = dataclasses.replace(benchmark_methods.TASKS['seg'],
                               sweep_page='sweep.md',
                               results_page='results.md')
    sweep = sweep_results({('student', 'default'): 50.0,
                           ('kd', 'default'): 51.0, ('kd', 'tau4'): 52.5})
    for result in sweep.values():
        result['command'] = 'python tools/train.py ...'
    teacher = {'command': 'python tools/train.py configs/x/teacher.py',
               'figures': {split: {'mIoU': value} for split, value in
                           (('train', 70.0), ('val', 60.0), ('test', 59.0))}}
    chosen = benchmark_methods.choose(sweep, 'mIoU')
    pages.sweep_page(task, sweep, chosen, teacher, [0, 3, 7], 'docs',
                     'results', 'python tools/benchmark_methods.py')
    page = (tmp_path / 'docs' / 'sweep.md').read_text()
    assert '| kd | **tau4** |' in page and '+2.50' in page
    assert 'go on to seeds 0, 3, 7 on test' in page
    assert '`python tools/benchmark_methods.py`' in page
    saved = json.loads((tmp_path / 'results' / 'sweep.json').read_text())
    assert saved['chosen'] == {'kd': {'setting': 'tau4', 'options': []}}
    assert saved['val']['kd/tau4'] == 52.5

    final = {}
    for method, setting, values in (
            ('student', 'default', [50.0, 51.0, 52.0]),
            ('student', 'double_schedule', [50.5, 51.0, 52.1]),
            ('kd', 'default', [51.0, 51.5, 54.0]),
            ('kd', 'tau4', [49.0, 50.0, 51.0])):
        for seed, value in enumerate(values):
            final[Run(method, setting, 'c.py', (), seed)] = {
                'test': {'mIoU': value}, 'val': {'mIoU': value + 1},
                'train_seconds': 60.0,
                'command': 'python tools/train.py ...',
                'curve': [(500, value - 5), (1000, value)]}
    # the first seed's curves, of the runs that left scalars
    scalars = tmp_path / 'wd' / '20261126_000000' / 'vis_data'
    scalars.mkdir(parents=True)
    (scalars / 'scalars.json').write_text(
        '{"loss": 1.5, "decode.loss_ce": 1.0, "distill.loss_kd": 0.5, '
        '"step": 10}\n{"mIoU": 40.0, "step": 20}\n')
    next(r for run, r in final.items() if run.method == 'student' and
         run.setting == 'default' and run.seed == 0)['work_dir'] = 'wd'
    pages.results_page(task, final, chosen, teacher, [0, 1, 2], 600.0,
                       'docs', 'python tools/benchmark_methods.py')
    page = (tmp_path / 'docs' / 'results.md').read_text()
    assert (tmp_path / 'docs' / 'results_curves.png').stat().st_size > 0
    assert '](results_curves.png)' in page
    # kd default: differences 1.0, 0.5, 2.0 from the student alone
    assert '| kd | default | - | 52.17 ± 1.61 | +1.17 [' in page
    assert '| 51.00, 51.50, 54.00 |' in page  # per seed
    assert '| 53.17 ± 1.61, +1.17 |' in page  # val: each run 1 higher
    assert '| kd | tau4 (chosen on val) | - | 50.00 ± 1.00 | -1.00 [' in page
    assert 'train 70.00 (train minus val: +10.00)' in page
    assert 'Student alone: test 51.00, 8.00 below the teacher' in page
    assert (tmp_path / 'docs' / 'results.png').stat().st_size > 0
    assert (tmp_path / 'docs' / 'results_convergence.png').stat().st_size > 0

    # a reading written by hand between the markers survives a rewrite
    reading = f'{pages.READING[0]}\nKD helps here.\n{pages.READING[1]}'
    for name in ('results.md', 'sweep.md'):
        path = tmp_path / 'docs' / name
        path.write_text(path.read_text().replace('## Commands',
                                                 reading + '\n## Commands'))
    pages.results_page(task, final, chosen, teacher, [0, 1, 2], 600.0,
                       'docs', 'python tools/benchmark_methods.py')
    pages.sweep_page(task, sweep, chosen, teacher, [0, 1, 2], 'docs',
                     'results', 'python tools/benchmark_methods.py')
    for name in ('results.md', 'sweep.md'):
        page = (tmp_path / 'docs' / name).read_text()
        assert page.count('KD helps here.') == 1
        assert page.index(reading) < page.index('| method |')


def test_test_figures_are_reused_only_for_the_run_that_wrote_them(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tests = []

    def fake_test(config, checkpoint, work_dir, metric, threads=None):
        tests.append(checkpoint)
        return {'mIoU': float(len(tests))}

    monkeypatch.setattr(benchmark_methods, 'test', fake_test)
    (tmp_path / 'run').mkdir()
    bench = benchmark_methods.Benchmark(benchmark_methods.TASKS['seg'], {},
                                        jobs=1)
    first = dict(settings='a', checkpoint='run/iter_1.pth', reused=False)
    assert bench.tested('c.py', first, 'run') == {'mIoU': 1.0}
    assert bench.tested('c.py', dict(first, reused=True), 'run') == {
        'mIoU': 1.0}
    assert len(tests) == 1
    # the work dir retrained with other settings: its old figures are stale
    other = dict(settings='b', checkpoint='run/iter_1.pth', reused=True)
    assert bench.tested('c.py', other, 'run') == {'mIoU': 2.0}
    # a run trained again with the same settings is tested again too
    assert bench.tested('c.py', dict(other, reused=False), 'run') == {
        'mIoU': 3.0}
    # a test.json of the older format (figures only) is not trusted
    (tmp_path / 'run' / 'test.json').write_text('{"mIoU": 9.0}')
    assert bench.tested('c.py', other, 'run') == {'mIoU': 4.0}
