// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {RewardToken} from "../src/RewardToken.sol";

interface Vm {
    function prank(address sender) external;
    function expectRevert(bytes calldata revertData) external;
}

contract RewardTokenTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    RewardToken token;
    address constant ALICE = address(0xA11CE);
    address constant PORTAL = address(0x9047A1);

    function setUp() public {
        token = new RewardToken("Crucible Reward", "CRU", 1_000 ether);
    }

    function testSupplyGoesToTheDeployer() public view {
        require(token.balanceOf(address(this)) == 1_000 ether && token.totalSupply() == 1_000 ether);
    }

    function testApproveAndTransferFromLikeAPortal() public {
        token.approve(PORTAL, 10 ether);
        vm.prank(PORTAL);
        require(token.transferFrom(address(this), ALICE, 4 ether), "transferFrom");
        require(token.balanceOf(ALICE) == 4 ether);
        require(token.allowance(address(this), PORTAL) == 6 ether);
        vm.prank(PORTAL);
        vm.expectRevert(abi.encodeWithSelector(RewardToken.InsufficientAllowance.selector, PORTAL, 6 ether, 7 ether));
        // The call reverts: there is no return value to check.
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(address(this), ALICE, 7 ether);
    }

    function testTransferMoreThanTheBalanceReverts() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RewardToken.InsufficientBalance.selector, ALICE, 0, 1));
        // The call reverts: there is no return value to check.
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(address(this), 1);
    }

    function testFuzzTransferMovesExactlyTheAmount(address to, uint96 amount) public {
        if (to == address(0) || to == address(this) || amount > 1_000 ether) return;
        require(token.transfer(to, amount), "transfer");
        require(token.balanceOf(to) == amount, "recipient");
        require(token.balanceOf(address(this)) == 1_000 ether - amount, "sender");
    }
}
