"""Code generators (LLVM for the CPU, PTX/CUDA for the GPU) for Lflat."""
