"""
    JetClustering

Sequential recombination jet clustering (generalised kt family) with a
straightforward O(N²) nearest-neighbour implementation, in the spirit of
FastJet's "N2Plain" strategy.  Adequate for the O(100) particles of the
example events; everything is generic over the element type of the inputs.
"""
module JetClustering

using FourVectors

export AbstractJetAlgorithm, AntiKt, Kt, CambridgeAachen, GenKt, radius,
       RecombinationScheme, EScheme, PtScheme, Pt2Scheme, WTAScheme,
       ClusterSequence, Jet, cluster, inclusive_jets, exclusive_jets,
       n_exclusive_jets, exclusive_dmerge, exclusive_dmerge_max,
       constituents, nconstituents, momentum, history_length,
       JetSelector, PtMin, AbsEtaMax, AbsRapMax, MassMin, NConstituentsMin,
       AllOf, AnyOf, NotSel, passes, select_jets,
       jet_width, jet_ptd, leading_fraction, jet_girth, jet_charge

include("algorithms.jl")
include("sequence.jl")
include("jets.jl")
include("selectors.jl")

end # module
