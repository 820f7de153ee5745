//! An input costs what it changes, not the size of the state: the bytes allocated while
//! applying one input (accepted or rejected) do not grow with the number of competitions,
//! blobs, balances and commitments the state holds. Counted by a global allocator on this
//! thread, so the figures are exact and machine-independent (no timing).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use crucible_core::{
    AdvanceMeta, Outcome, State,
    abi::{self, ICrucible},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_types::{Deposit, rollup::ERC20_PORTAL};
use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

struct Counting;

thread_local! {
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to `System` unchanged; the counter only adds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.with(|b| b.set(b.get() + layout.size() as u64));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.with(|b| b.set(b.get() + new_size as u64));
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TOKEN: Address = Address::repeat_byte(0x70);
const START: u64 = 1_800_000_000;

struct Feed {
    state: State,
    index: u64,
}

impl Feed {
    fn send(&mut self, sender: Address, payload: &[u8]) -> Outcome {
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: Address::repeat_byte(0xab),
            msg_sender: sender,
            block_number: 100 + self.index,
            block_timestamp: START + self.index,
            prev_randao: B256::ZERO,
            input_index: self.index,
        };
        self.index += 1;
        self.state
            .advance(&meta, payload)
            .expect("no invariant breaks")
    }

    fn accept(&mut self, sender: Address, payload: &[u8]) {
        let outcome = self.send(sender, payload);
        assert!(outcome.rejection().is_none(), "{outcome:?}");
    }

    fn deposit(&mut self, from: Address, amount: u64, exec: Vec<u8>) {
        let d = Deposit {
            token: TOKEN,
            sender: from,
            amount: U256::from(amount),
            exec_layer_data: exec,
        };
        self.accept(ERC20_PORTAL, &d.encode());
    }

    /// Bytes allocated while applying one input.
    fn allocated(&mut self, sender: Address, payload: &[u8]) -> (u64, bool) {
        let before = BYTES.with(Cell::get);
        let outcome = self.send(sender, payload);
        (
            BYTES.with(Cell::get) - before,
            outcome.rejection().is_none(),
        )
    }
}

fn who(i: usize) -> Address {
    let mut a = [0u8; 20];
    a[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    Address::from(a)
}

fn one_chunk(bytes: &[u8]) -> Vec<u8> {
    let [call] = abi::put_chunk_calls(bytes).try_into().expect("one chunk");
    call.abi_encode()
}

/// A state with `n` competitions, each with a commitment, `n` stored blobs and `n` funded
/// balances.
fn grown(n: usize) -> Feed {
    let mut f = Feed {
        state: State::default(),
        index: 0,
    };
    let x: Vec<u8> = (0..40).map(|i| (i * 37 % 251) as u8).collect();
    let y: Vec<i64> = (0..10).map(|i| i % 3).collect();
    let data = dataset::encode(
        &[10, 4],
        DatasetFeatures::U8(&x),
        &[10],
        DatasetTargets::Labels(&y),
    )
    .expect("encodes");
    f.accept(who(0), &one_chunk(&data));
    let spec = abi::CompetitionSpec {
        validationCid: crucible_core::Cid::of(&data).to_bytes().into(),
        baselineCid: Bytes::new(),
        testCommitment: B256::ZERO,
        metric: abi::Metric::Accuracy,
        submissionDeadline: START + 10_000_000,
        revealDeadline: START + 10_000_001,
        epsilonPpm: 0,
        testSetBytes: 0,
        payoutBps: vec![10_000],
        limits: crucible_core::Limits::default().to_abi(),
    };
    let create = ICrucible::createCompetitionCall { spec }.abi_encode();
    for i in 0..n {
        f.deposit(who(i), 1_000, create.clone());
        f.deposit(who(i), 1_000, Vec::new());
        f.accept(who(i), &one_chunk(format!("blob {i}").as_bytes()));
        let commit = ICrucible::commitSubmissionCall {
            competitionId: i as u64 + 1,
            commitment: B256::repeat_byte(i as u8),
        };
        f.accept(who(i), &commit.abi_encode());
    }
    f
}

#[test]
fn an_input_costs_what_it_changes_not_the_size_of_the_state() {
    let inputs: Vec<(&str, Address, Vec<u8>, bool)> = vec![
        (
            "withdraw",
            who(3),
            ICrucible::withdrawCall {
                token: TOKEN,
                amount: U256::from(5u64),
            }
            .abi_encode(),
            true,
        ),
        (
            "commit",
            who(4),
            ICrucible::commitSubmissionCall {
                competitionId: 2,
                commitment: B256::repeat_byte(0xcc),
            }
            .abi_encode(),
            true,
        ),
        (
            "putChunk of a new blob",
            who(5),
            one_chunk(b"a new blob"),
            true,
        ),
        (
            "rejected withdraw",
            who(6),
            ICrucible::withdrawCall {
                token: TOKEN,
                amount: U256::from(5_000u64),
            }
            .abi_encode(),
            false,
        ),
    ];
    let (mut small, mut large) = (grown(100), grown(3_200));
    for (what, sender, payload, accepted) in inputs {
        let (a, ok_a) = small.allocated(sender, &payload);
        let (b, ok_b) = large.allocated(sender, &payload);
        assert_eq!((ok_a, ok_b), (accepted, accepted), "{what}");
        println!("{what}: {a} bytes allocated with 100 competitions, {b} with 3,200");
        // 32× the state; a copy of it would allocate ~32× the bytes. Persistent maps copy one
        // path of nodes (one level more at most).
        assert!(b <= 2 * a + 16_384, "{what}: {a} → {b} bytes");
    }
}
