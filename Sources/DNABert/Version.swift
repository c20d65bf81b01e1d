/// Library version; kept equal to DNABERT_VERSION_STRING in include/dnabert.h (a test checks).
public enum DNABertVersion {
    public static let string = "0.2.0"
}
