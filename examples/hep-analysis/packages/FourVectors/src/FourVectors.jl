"""
    FourVectors

Lorentz four-momenta for collider kinematics.

Two concrete representations share the `AbstractFourMomentum{T}` interface:
`FourVector` stores Cartesian components (cheap sums, the natural choice for
recombination) and `PtEtaPhiMVector` stores detector coordinates (cheap
angular quantities, the natural choice for generators and cuts).  Every
observable is written against the interface, so both work everywhere and the
element type (`Float32`, `Float64`, `BigFloat`, ...) is carried through.
"""
module FourVectors

export AbstractFourMomentum, FourVector, PtEtaPhiMVector, ThreeVector,
       px, py, pz, energy, momentum3, pt, pt2, pmag, pmag2, mass, mass2, mt, mt2, et,
       eta, phi, phi02pi, rapidity, theta, costheta, lorentzbeta, lorentzgamma,
       dot4, deltaphi, deltaeta, deltarapidity, deltaR, deltaR2, deltaRy,
       deltaRy2, invariant_mass, cosangle,
       boost, boostvector, boostz, torestframe, costheta_star,
       fromptetaphim, fromptetaphie, fromptyphim, withprecision, wrapphi, MAXRAP

include("threevector.jl")
include("types.jl")
include("kinematics.jl")
include("boosts.jl")

end # module
