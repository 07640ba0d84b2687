"""The seed's one-line example with its import changed (server for --rank 0, else a silo)."""
import fedsilo as fedml

if __name__ == "__main__":
    fedml.run_hierarchical_cross_silo_client()
