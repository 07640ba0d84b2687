#include <fedsilo/fedsilo.h>

int main(int argc, char** argv) { return fedsilo::run_hierarchical_cross_silo_client(argc, argv); }
