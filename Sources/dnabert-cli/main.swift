import DNABert
print("dnabert \(DNABertVersion.string)")
