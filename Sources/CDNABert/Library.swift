import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

private let versionCString: UnsafePointer<CChar> = {
    let s = DNABertVersion.string
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.utf8.count + 1)
    s.withCString { src in _ = strcpy(p, src) }
    return UnsafePointer(p)
}()

@_cdecl("dnabert_version")
public func dnabert_version() -> UnsafePointer<CChar> { versionCString }
