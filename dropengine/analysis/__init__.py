"""Analysis of dropout ensembles (Sections 6-9, Appendices A-F), over the engine's
statistics and samples.

means, summary            weighted E, G, G', NWGM (Eq. 28-30, 35-37), Cython kernel
bounds                    E - G and E - NWGM: Eq. 78-87, 202-211
ensemble_errors           Eq. 56-58
transfer_functions        ReLU errors (Eq. 72, 74, 190, 193), fit_logistic (Eq. 61-64), nwgm_gap
gaussian                  Appendix D-F: E(sigma(S)) for Gaussian S, E(sigma'(S)), densities
deep_regularizer          Section 11.5 exactly: E(dE_D/dw) beside Eq. 179-188 and the sign of A
gaussian_exact            exact E(f(S)) for Gaussian S by quadrature; Eq. 240-242 beside it
covariance                Section 9.6: Var and E(O_i O_j) from W; Eq. 123 with its term in sigma'
higher_moments            Appendix C: Eq. 212-218, NWGM(O^k), E(O^2) and Var(O) from the moments of S
dsigma_nwgm               Appendix D: Eq. 221-222, NWGM(sigma'(S)) and its series
sum_moments               Appendix E.2: Eq. 228-230, mean and variance of a sum of weight x activity products
sampling_distributions    Sections 9.2-9.4: E and NWGM of samples (Fig. 9.1, 9.2)
approximation_report      Section 9.5: per layer E - NWGM, E - W, NWGM - W
cancellation              Section 9.5: Eq. 112-116 (Var(beta), alpha vs beta) from two runs; shape
"""
from . import bounds, higher_moments
from .cancellation import CancellationLayer, cancellation
from .covariance import (ConnectedPair, connected_pair, eprod_eq123, eprod_independent, eq123_second_term,
                         variance_bounds)
from .dsigma_nwgm import nwgm_dsigma, nwgm_dsigma_series
from .deep_regularizer import DeepRegularizer, LayerTerms, deep_regularizer
from .ensemble_error import EnsembleErrors, ensemble_errors
from .gaussian import ALPHA, density_O_gaussian_S, density_S_beta_O, expected_dsigma, expected_logistic_gaussian
from .gaussian_exact import GaussianApproximations, expected_transfer_gaussian, logistic_gaussian_approximations
from .means import Means, Summary, means, summary, summary_numpy
from .report import LayerReport, approximation_report
from .sampling_distributions import DISTRIBUTIONS, sampling_curve, sampling_distribution
from .sum_moments import sum_mean, sum_variance, sum_variance_centered
from .transfer_functions import fit_logistic, nwgm_gap, relu_error_discrete, relu_error_gaussian, relu_error_uniform

__all__ = ["Means", "Summary", "means", "summary", "summary_numpy", "bounds", "ensemble_errors",
           "EnsembleErrors", "relu_error_gaussian", "relu_error_uniform", "relu_error_discrete", "fit_logistic",
           "nwgm_gap", "ALPHA", "expected_logistic_gaussian", "expected_dsigma", "density_O_gaussian_S",
           "density_S_beta_O", "variance_bounds", "eprod_independent", "connected_pair", "ConnectedPair",
           "eq123_second_term", "eprod_eq123", "higher_moments",
           "deep_regularizer", "DeepRegularizer", "LayerTerms", "expected_transfer_gaussian",
           "logistic_gaussian_approximations", "GaussianApproximations",
           "DISTRIBUTIONS", "sampling_distribution", "sampling_curve", "approximation_report", "LayerReport",
           "cancellation", "CancellationLayer", "nwgm_dsigma", "nwgm_dsigma_series", "sum_mean", "sum_variance",
           "sum_variance_centered"]
