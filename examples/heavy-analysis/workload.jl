using HepStudy
heavy_example(stdout)
