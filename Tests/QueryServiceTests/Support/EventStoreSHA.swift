import Crypto

enum EventStoreSHA {
    static func hex(_ s: String) -> String { SHA256.hash(Array(s.utf8)).hexString }
}
