/// Element types found in checkpoint files (safetensors spelling). Everything is converted to
/// Float32 on read: the model computes in Float32, and ids/masks in fixture files fit exactly.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }
}

/// A named checkpoint tensor after conversion: row-major `shape`, Float32 `data`.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }
}

enum ShapeMath {
    /// Product of dimensions; nil on a negative dimension or overflow (hostile headers).
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

/// Decoding of one element type into Float32 (little-endian files on a little-endian host).
enum DTypeConversion {
    @inline(__always)
    static func half(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32((h >> 10) & 0x1f)
        let mant = UInt32(h & 0x3ff)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * 0x1p-24   // subnormal: mant * 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    @inline(__always)
    static func e4m3(_ b: UInt8) -> Float {
        // OCP "E4M3FN": bias 7, no infinities, S.1111.111 is NaN.
        let neg = b & 0x80 != 0
        let exp = Int((b >> 3) & 0x0f), mant = Int(b & 0x07)
        let v: Float
        if exp == 15 && mant == 7 { return .nan }
        if exp == 0 { v = Float(mant) * 0x1p-9 } else { v = (1 + Float(mant) / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1) }
        return neg ? -v : v
    }

    /// Converts `count` contiguous elements of `dtype` at `src` into `dst`.
    static func convert(_ dtype: DType, from src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            memcpyCompat(dst, src, count * 4)
        default:
            for i in 0..<count { dst[i] = element(dtype, src, i) }
        }
    }

    /// Element `i` of a `dtype` array at `src` (unaligned-safe).
    @inline(__always)
    static func element(_ dtype: DType, _ src: UnsafeRawPointer, _ i: Int) -> Float {
        switch dtype {
        case .f32: return Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f64: return Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        case .f16: return half(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .bf16: return Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
        case .f8e4m3: return e4m3(src.load(fromByteOffset: i, as: UInt8.self))
        case .f8e5m2: return half(UInt16(src.load(fromByteOffset: i, as: UInt8.self)) << 8)
        case .i64: return Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        case .i32: return Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .i16: return Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case .i8: return Float(src.load(fromByteOffset: i, as: Int8.self))
        case .u64: return Float(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        case .u32: return Float(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .u16: return Float(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .u8: return Float(src.load(fromByteOffset: i, as: UInt8.self))
        case .bool: return src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0
        }
    }

    @inline(__always)
    static func memcpyCompat(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeRawPointer, _ bytes: Int) {
        if bytes > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: bytes) }
    }
}

/// A tensor of an open checkpoint file whose values are converted only when asked for.
///
/// Why: a 468 MB checkpoint read eagerly costs the file plus a converted copy plus the model's flat
/// buffer. `copy(into:)` converts straight from the memory-mapped file into the destination view.
/// The closure keeps the mapping alive as long as the value exists.
public struct LazyTensor: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    /// Element type in the file (values are always delivered as Float32).
    public let dtype: DType
    public let count: Int
    let fill: (UnsafeMutablePointer<Float>) throws -> Void

    init(name: String, shape: [Int], dtype: DType, count: Int, fill: @escaping (UnsafeMutablePointer<Float>) throws -> Void) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.count = count
        self.fill = fill
    }

    /// Wraps an in-memory tensor.
    public init(name: String, tensor: Tensor) {
        let data = tensor.data
        self.init(name: name, shape: tensor.shape, dtype: .f32, count: data.count) { dst in
            data.withUnsafeBufferPointer { src in
                if let s = src.baseAddress, !src.isEmpty { dst.update(from: s, count: src.count) }
            }
        }
    }

    /// Converts the values into `into`, which must hold exactly `count` floats.
    public func copy(into: UnsafeMutableBufferPointer<Float>) throws {
        guard into.count == count else {
            throw DNABertError.invalidArgument("tensor '\(name)': destination holds \(into.count) floats, the tensor \(count)")
        }
        if count > 0, let p = into.baseAddress { try fill(p) }
    }

    public func load() throws -> Tensor {
        var data = try Memory.array(repeating: Float(0), count: count, what: "tensor '\(name)'")
        try data.withUnsafeMutableBufferPointer { try copy(into: $0) }
        return Tensor(shape: shape, data: data)
    }
}
