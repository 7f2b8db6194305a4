"""ComBat harmonisation: the same numbers as neuroCombat 0.2.12 (Fortin et al. 2018) to 1e-9, fitted on training
samples and applied to new ones, and errors a researcher can act on."""
import contextlib
import io
import sys

import numpy as np
import pandas as pd
import pytest
from neuroCombat import neuroCombat, neuroCombatFromTraining

from analytics.compute.harmonisation import ComBat, HarmonisationError

BATCHES = {"GE": (0.0, 1.0), "Philips": (-1.0, 0.6), "Siemens": (1.5, 1.8)}  # additive and multiplicative effect


def scanner_table(seed=0, sizes=(20, 15, 25), p=30):
    """Features (samples x features) with an age and a sex effect and a per-scanner location/scale effect."""
    rng = np.random.default_rng(seed)
    batch = np.repeat(list(BATCHES), sizes)
    n = len(batch)
    # Whole years: neuroCombat casts continuous covariates to float32, which must not change them.
    age = rng.integers(30, 85, n).astype(float)
    sex = rng.choice(["F", "M"], n)
    features = (rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, p) + np.outer(age, rng.uniform(-0.05, 0.05, p))
                + np.outer(sex == "M", rng.uniform(-1, 1, p)))
    shift = np.array([BATCHES[b][0] for b in batch])[:, None] * rng.uniform(0.5, 2.0, p)
    scale = np.array([BATCHES[b][1] for b in batch])[:, None]
    X = pd.DataFrame(features * scale + shift + rng.uniform(-50, 50, p),
                     columns=[f"original_firstorder_F{j}" for j in range(p)], index=[f"S{i}" for i in range(n)])
    covariates = pd.DataFrame({"manufacturer": batch, "age_at_start": age, "sex": sex}, index=X.index)
    return X, covariates


def reference(X, covariates, *, preserve=(), **options):
    """neuroCombat's output (features x samples in, transposed back); it prints its progress."""
    categorical = [c for c in preserve if covariates[c].dtype == object]
    continuous = [c for c in preserve if c not in categorical]
    with contextlib.redirect_stdout(io.StringIO()):
        out = neuroCombat(X.to_numpy().T.copy(), covariates, "manufacturer", categorical_cols=categorical,
                          continuous_cols=continuous, **options)
    return out["data"].T, out["estimates"]


@pytest.mark.parametrize("preserve", [(), ("age_at_start", "sex")], ids=["no covariates", "age and sex"])
@pytest.mark.parametrize("mean_only", [False, True], ids=["location-scale", "mean only"])
@pytest.mark.parametrize("eb,parametric", [(True, True), (True, False), (False, True)],
                         ids=["parametric EB", "non-parametric EB", "no EB"])
def test_fit_transform_equals_neurocombat(eb, parametric, mean_only, preserve):
    X, covariates = scanner_table(seed=1)
    expected, estimates = reference(X, covariates, preserve=preserve, eb=eb, parametric=parametric,
                                    mean_only=mean_only)
    combat = ComBat(batch="manufacturer", preserve=preserve, eb=eb, parametric=parametric, mean_only=mean_only)
    harmonised = combat.fit_transform(X, covariates)
    assert isinstance(harmonised, pd.DataFrame) and harmonised.index.equals(X.index)
    assert np.abs(harmonised.to_numpy() - expected).max() < 1e-9
    assert np.abs(combat.gamma_star_ - np.asarray(estimates["gamma.star"], dtype=float)).max() < 1e-9
    assert np.abs(combat.delta_star_ - np.asarray(estimates["delta.star"], dtype=float)).max() < 1e-9
    assert np.abs(combat.var_pooled_ - estimates["var.pooled"].ravel()).max() < 1e-9


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_other_data_sets_and_array_input(seed):
    X, covariates = scanner_table(seed=seed, sizes=(8, 40, 5), p=12)
    expected, _ = reference(X, covariates, preserve=("age_at_start",))
    harmonised = ComBat(batch="manufacturer", preserve=["age_at_start"]).fit_transform(X.to_numpy(), covariates)
    assert isinstance(harmonised, np.ndarray) and np.abs(harmonised - expected).max() < 1e-9


class _NumpyForNeuroCombat:
    """numpy, except that ``where`` returns 0-d indices: neuroCombatFromTraining 0.2.12 calls ``int()`` on the
    1-element array ``np.where(...)[0]``, which NumPy 2 refuses."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def where(*args):
        return tuple(index.reshape(()) if index.size == 1 else index for index in np.where(*args))


def test_new_samples_of_seen_batches_equal_neurocombat_from_training(monkeypatch):
    X, covariates = scanner_table(seed=5, sizes=(30, 30, 30))
    train, test = X.index[::3].union(X.index[1::3]), X.index[2::3]
    _, estimates = reference(X.loc[train], covariates.loc[train])
    monkeypatch.setattr(sys.modules["neuroCombat.neuroCombat"], "np", _NumpyForNeuroCombat())
    with contextlib.redirect_stdout(io.StringIO()):
        expected = neuroCombatFromTraining(X.loc[test].to_numpy().T, covariates.loc[test, "manufacturer"].to_numpy(),
                                           estimates)["data"].T
    combat = ComBat(batch="manufacturer").fit(X.loc[train], covariates.loc[train])
    assert np.abs(combat.transform(X.loc[test], covariates.loc[test]).to_numpy() - expected).max() < 1e-9


def test_transform_uses_each_new_samples_own_covariates():
    X, covariates = scanner_table(seed=6)
    combat = ComBat(batch="manufacturer", preserve=["age_at_start", "sex"]).fit(X, covariates)
    fitted = combat.transform(X, covariates)
    some = X.index[[3, 17, 40, 59]]
    # A training sample passed again is harmonised exactly as in the fit, whatever the other samples are.
    assert np.abs(combat.transform(X.loc[some], covariates.loc[some]).to_numpy() - fitted.loc[some].to_numpy()).max() < 1e-12
    older = covariates.loc[some].assign(age_at_start=covariates.loc[some, "age_at_start"] + 10)
    moved = combat.transform(X.loc[some], older) - fitted.loc[some]
    assert np.abs(moved.to_numpy()).max() > 0  # the covariate effect is that sample's, not the training mean


def test_harmonisation_removes_the_scanner_effect():
    X, covariates = scanner_table(seed=7, sizes=(40, 40, 40))

    def scanner_spread(table):
        means = table.groupby(covariates["manufacturer"]).mean()
        sds = table.groupby(covariates["manufacturer"]).std()
        return (means.max() - means.min()).median(), (sds.max() / sds.min()).median()

    before = scanner_spread(X)
    after = scanner_spread(ComBat(batch="manufacturer", preserve=["age_at_start", "sex"]).fit_transform(X, covariates))
    assert after[0] < 0.2 * before[0] and after[1] < before[1] and after[1] < 1.5


def test_large_batches_non_parametric_stays_finite_where_neurocombat_underflows():
    from scipy.special import logsumexp
    from scipy.stats import norm

    X, covariates = scanner_table(seed=8, sizes=(800, 700, 650), p=8)
    with np.errstate(all="ignore"):
        expected, _ = reference(X, covariates, parametric=False)
    assert np.isnan(expected).any()  # 1 / (2 pi d)^(n/2) underflows: 0/0
    combat = ComBat(batch="manufacturer", parametric=False).fit(X, covariates)
    assert np.isfinite(combat.transform(X, covariates).to_numpy()).all()
    # Johnson et al. 2007 section 3.2 written out: feature f's posterior is the mean of the other features'
    # estimates weighted by the normal likelihood of f's standardised data under each of them.
    s_data = (X.to_numpy() - combat.grand_mean_) / np.sqrt(combat.var_pooled_)
    for i, level in enumerate(combat.batches_):
        x = s_data[(covariates["manufacturer"] == level).to_numpy()]
        g, d = combat.gamma_hat_[i], combat.delta_hat_[i]
        for f in range(x.shape[1]):
            others = [j for j in range(x.shape[1]) if j != f]
            log_w = np.array([norm.logpdf(x[:, f], g[j], np.sqrt(d[j])).sum() for j in others])
            w = np.exp(log_w - logsumexp(log_w))
            assert combat.gamma_star_[i, f] == pytest.approx(w @ g[others], abs=1e-9)
            assert combat.delta_star_[i, f] == pytest.approx(w @ d[others], abs=1e-9)


def test_errors_say_what_to_do():
    X, covariates = scanner_table(seed=9, sizes=(10, 10, 10), p=5)
    combat = ComBat(batch="manufacturer", preserve=["age_at_start"])

    lonely = covariates.copy()
    lonely.iloc[0, 0] = "Canon"
    with pytest.raises(HarmonisationError, match=r"Canon of 'manufacturer' have a single sample.*at least 2 samples"):
        combat.fit(X, lonely)

    flat = X.copy()
    flat.loc[covariates["manufacturer"] == "Philips", "original_firstorder_F3"] = 7.0
    with pytest.raises(HarmonisationError,
                       match=r"original_firstorder_F3 are constant within batch 'Philips'.*Drop these features"):
        combat.fit(flat, covariates)
    assert ComBat(batch="manufacturer", mean_only=True).fit(flat, covariates)  # no scale to estimate
    with pytest.raises(HarmonisationError, match="F2 are constant: there is nothing to harmonise"):
        combat.fit(X.assign(original_firstorder_F2=1.0), covariates)

    combat.fit(X.iloc[:20], covariates.iloc[:20])  # GE and Philips only
    with pytest.raises(HarmonisationError, match=r"Siemens of 'manufacturer' were not in the training data "
                                                 r"\(seen: GE, Philips\)"):
        combat.transform(X, covariates)
    with pytest.raises(HarmonisationError, match="features differ from those ComBat was fitted on"):
        combat.transform(X.iloc[:20, ::-1], covariates.iloc[:20])

    with pytest.raises(HarmonisationError, match="Only one batch"):
        ComBat(batch="manufacturer").fit(X.iloc[:10], covariates.iloc[:10])
    missing = X.copy()
    missing.iloc[4, 1] = np.nan
    with pytest.raises(HarmonisationError, match="missing or infinite values in original_firstorder_F1"):
        combat.fit(missing, covariates)
    confounded = covariates.assign(site=covariates["manufacturer"].map({"GE": "A", "Philips": "B", "Siemens": "B"}))
    with pytest.raises(HarmonisationError, match="confounded with 'manufacturer'"):
        ComBat(batch="manufacturer", preserve=["site"]).fit(X, confounded)
    with pytest.raises(HarmonisationError, match="no column age"):
        ComBat(batch="manufacturer", preserve=["age"]).fit(X, covariates)
    sexed = ComBat(batch="manufacturer", preserve=["sex"]).fit(X, covariates)
    with pytest.raises(HarmonisationError, match="level\\(s\\) U were not in the training data"):
        sexed.transform(X, covariates.assign(sex="U"))
    with pytest.raises(HarmonisationError, match="not fitted yet"):
        ComBat().transform(X, covariates)
    with pytest.raises(HarmonisationError, match="at least 2 features"):
        ComBat(batch="manufacturer").fit(X.iloc[:, :1], covariates)
    assert ComBat(batch="manufacturer", eb=False).fit(X.iloc[:, :1], covariates)
